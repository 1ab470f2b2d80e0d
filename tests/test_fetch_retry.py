"""fetch.retry: Retry-After as seconds or an HTTP-date, read against the now passed in, capped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.fetch import (
    parse_retry_after,
)

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("soon", None),
        ("1e3", None),
        ("12abc", None),
        ("nan", None),
        ("inf", None),
        ("0", 0.0),
        ("60", 60.0),
        (" 7 ", 7.0),
        ("-5", 0.0),
        ("99999999999999999999999", 100.0),
        ("Tue, 02 Jan 2024 03:05:05 GMT", 60.0),
        ("Tue, 02 Jan 2024 03:00:00 GMT", 0.0),
        ("Wed, 03 Jan 2024 03:04:05 GMT", 100.0),
        ("Tuesday, 02-Jan-24 03:05:05 GMT", 60.0),
        ("Tue Jan  2 03:05:05 2024", 60.0),
        ("Tue, 32 Jan 2024 03:05:05 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW, cap=100.0) == expected


def test_parse_retry_after_accepts_naive_now() -> None:
    assert parse_retry_after("Tue, 02 Jan 2024 03:05:05 GMT", NOW.replace(tzinfo=None), 1000) == 60.0
