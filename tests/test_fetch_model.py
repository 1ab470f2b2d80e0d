"""``fetch.model``: limits that cannot work are refused when they are made."""

import pytest

from aggregator.fetch.model import DEFAULT_LIMITS, FetchLimits


@pytest.mark.parametrize(
    "bad",
    [
        {"connect_timeout": 0},
        {"total_timeout": -1},
        {"max_bytes": 0},
        {"max_redirects": -1},
        {"max_retry_after": -0.5},
    ],
)
def test_impossible_limits_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FetchLimits(**bad)  # type: ignore[arg-type]


def test_defaults_refuse_private_addresses_and_bound_the_body() -> None:
    assert DEFAULT_LIMITS.allow_private is False
    assert 0 < DEFAULT_LIMITS.max_bytes <= 64 * 1024 * 1024
    assert FetchLimits(max_redirects=0).max_redirects == 0
