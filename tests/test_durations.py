"""durations: the one grammar for poll intervals and filter ages."""

import pytest

from aggregator.durations import parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30m", 30 * 60),
        ("2h", 2 * 3600),
        ("1d", 86400),
        ("2w", 2 * 7 * 86400),
        ("45s", 45),
        ("1.5h", 1.5 * 3600),
        (" 7 d ", 7 * 86400),
        ("90", 90),
        (90, 90),
        (2.5, 2.5),
        (0, 0),
        (-5, -5),  # the range is the caller's
    ],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["soon", "-5m", "5y", "", "7D", "1e3", True, None, float("inf"), [1]])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "seconds"), [("7d", 7 * 86400), ("12h", 12 * 3600), ("30m", 1800), ("2w", 14 * 86400)]
)
def test_unit_required_reads_ages(value: str, seconds: int) -> None:
    assert parse_duration(value, unit_required=True) == seconds


@pytest.mark.parametrize("value", ["2024", "90", 90])
def test_unit_required_refuses_bare_numbers(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value, unit_required=True)
