"""``sorts``: the order and window parameters, read and written back."""

from __future__ import annotations

import pytest

from aggregator.errors import QueryError
from aggregator.sorts import DEFAULT_WINDOW, parse_sort, parse_window, window_text


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "recent"), ("", "recent"), ("recent", "recent"), (" popular ", "popular"), ("rising", "rising")],
)
def test_sorts(value: str | None, expected: str) -> None:
    assert parse_sort(value) == expected


@pytest.mark.parametrize("value", ["Popular", "hot", "newest", "rising,popular"])
def test_an_unknown_sort_is_refused(value: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_sort(value)
    assert info.value.param == "sort" and "recent, popular, rising" in info.value.message


@pytest.mark.parametrize(
    ("value", "seconds", "text"),
    [
        (None, 24 * 3600, "24h"),
        ("1h", 3600, "1h"),
        ("6h", 6 * 3600, "6h"),
        ("90m", 5400, "90m"),
        ("1d", 86400, "24h"),
        ("48h", 2 * 86400, "2d"),
        ("7d", 7 * 86400, "7d"),
        ("2w", 14 * 86400, "14d"),
        ("30d", 30 * 86400, "30d"),
        ("3601s", 3601, "3601s"),
    ],
)
def test_windows(value: str | None, seconds: int, text: str) -> None:
    assert parse_window(value) == seconds
    assert window_text(seconds) == text
    assert parse_window(text) == seconds  # what is shown reads back the same


@pytest.mark.parametrize("value", ["59m", "3599s", "31d", "5w", "24", "", "soon", "-6h", "1.5x"])
def test_a_window_out_of_bounds_or_not_a_duration_is_refused(value: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_window(value)
    assert info.value.param == "window" and "1h to 30d" in info.value.message


def test_the_default_window_is_a_day() -> None:
    assert DEFAULT_WINDOW == 86400
