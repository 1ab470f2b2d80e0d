from datetime import UTC, datetime, timedelta

from aggregator.schedule import Cadence, next_after_error, next_after_success, parse_max_age

NOW = datetime(2026, 11, 24, tzinfo=UTC)
CADENCE = Cadence(interval=1800, min_interval=300, max_interval=86400)


def test_success_uses_interval_stretched_by_hints() -> None:
    assert next_after_success(CADENCE, NOW) == NOW + timedelta(seconds=1800)
    assert next_after_success(CADENCE, NOW, ttl_minutes=60) == NOW + timedelta(hours=1)
    assert next_after_success(CADENCE, NOW, ttl_minutes=5) == NOW + timedelta(seconds=1800)
    assert next_after_success(CADENCE, NOW, max_age=7200) == NOW + timedelta(hours=2)
    assert next_after_success(CADENCE, NOW, max_age=10**9) == NOW + timedelta(days=1)


def test_errors_back_off_exponentially_and_honour_retry_after() -> None:
    delays = [(next_after_error(CADENCE, NOW, n) - NOW).total_seconds() for n in (1, 2, 3, 4)]
    assert delays == [1800, 3600, 7200, 14400]
    assert next_after_error(CADENCE, NOW, 40) == NOW + timedelta(days=1)
    assert next_after_error(CADENCE, NOW, 1, retry_after=20000) == NOW + timedelta(seconds=20000)
    assert next_after_error(CADENCE, NOW, 1, retry_after=10**9) == NOW + timedelta(days=1)


def test_parse_max_age() -> None:
    assert parse_max_age({"cache-control": "public, max-age=600"}) == 600
    assert parse_max_age({"cache-control": "s-maxage=60"}) is None
    assert parse_max_age({"cache-control": "no-store, max-age=600"}) is None
    assert parse_max_age({"cache-control": "max-age=abc"}) is None
    assert parse_max_age({}) is None
