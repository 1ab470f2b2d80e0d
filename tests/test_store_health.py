"""``store.health``: how polling keeps up, as ``/metrics`` reports it, on SQLite and PostgreSQL.

Sources are written as the poller would leave them (synced from the configuration, then
each poll recorded), with next poll times chosen by the test, so every expected figure
follows from those times and the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from aggregator.config import SourceConfig
from aggregator.models import Source, table_of
from aggregator.store.health import PollHealth, poll_health
from aggregator.store.sources import SourceUpdate, record_poll, sync_sources

SOURCE = table_of(Source)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def polled(status: str, next_poll_at: datetime | None, *, gone: bool = False) -> SourceUpdate:
    failed = status in ("error", "gone")
    return SourceUpdate(
        last_polled_at=NOW - timedelta(hours=2),
        last_status=status,  # type: ignore[arg-type]
        last_http_status=410 if gone else 500 if failed else 200,
        next_poll_at=next_poll_at,
        consecutive_errors=1 if failed else 0,
        last_error="failed" if failed else None,
        error_category="http_5xx" if status == "error" else "http_4xx" if gone else None,
        gone=gone,
    )


def health(engine: Engine, now: datetime = NOW) -> PollHealth:
    with engine.connect() as conn:
        return poll_health(conn, now)


def configure(engine: Engine, names: list[str]) -> dict[str, int]:
    with engine.begin() as conn:
        sync_sources(conn, [SourceConfig(url=f"https://{n}.example/feed") for n in names], NOW)
        rows = conn.execute(select(SOURCE.c.id, SOURCE.c.url)).all()
    return {url.split("//")[1].split(".")[0]: id_ for id_, url in rows}


def test_an_empty_database_owes_nothing(engine: Engine) -> None:
    assert health(engine) == PollHealth(enabled=0, in_error=0, due=0, lag_seconds=0.0)


def test_counts_and_lag_follow_the_next_poll_times(engine: Engine) -> None:
    ids = configure(engine, ["fresh", "late", "later", "broken", "gone", "new"])
    with engine.begin() as conn:
        record_poll(conn, ids["fresh"], polled("new", NOW + timedelta(minutes=30)))
        record_poll(conn, ids["late"], polled("not_modified", NOW - timedelta(minutes=5)))
        record_poll(conn, ids["later"], polled("unchanged", NOW - timedelta(minutes=90)))
        record_poll(conn, ids["broken"], polled("error", NOW + timedelta(minutes=10)))
        record_poll(conn, ids["gone"], polled("gone", None, gone=True))
    # "new" was never polled: due, but it has no due time to be late by
    assert health(engine) == PollHealth(enabled=5, in_error=2, due=3, lag_seconds=90 * 60.0)
    # ten minutes on, the broken one is due as well; the lag grows with the clock
    assert health(engine, NOW + timedelta(minutes=10)) == PollHealth(
        enabled=5, in_error=2, due=4, lag_seconds=100 * 60.0
    )


def test_removed_sources_are_not_owed_a_poll(engine: Engine) -> None:
    ids = configure(engine, ["kept", "removed"])
    with engine.begin() as conn:
        record_poll(conn, ids["kept"], polled("new", NOW - timedelta(minutes=1)))
        record_poll(conn, ids["removed"], polled("error", NOW - timedelta(hours=3)))
        sync_sources(conn, [SourceConfig(url="https://kept.example/feed")], NOW)
    assert health(engine) == PollHealth(enabled=1, in_error=0, due=1, lag_seconds=60.0)
