"""``clock``: the real clock reads aware UTC time."""

from datetime import UTC, datetime

from aggregator.clock import utcnow


def test_utcnow_is_aware_utc_and_now() -> None:
    before = datetime.now(UTC)
    now = utcnow()
    after = datetime.now(UTC)
    assert now.tzinfo is UTC
    assert before <= now <= after
