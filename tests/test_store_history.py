"""``store.history`` on both backends: a point per change of a source's count, and compaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine
from test_store import FEED_URL, TAG_URL, at, entry, setup_sources, write

from aggregator.config import SourceConfig
from aggregator.models import BookmarkPoint, table_of
from aggregator.store.history import compact_history, record_points

POINT = table_of(BookmarkPoint)
Point = tuple[int, int, datetime]  # item, source, time
LINK = "https://example.org/post"


def points(engine: Engine) -> list[tuple[int, int, datetime, int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(POINT).order_by(POINT.c.source_id, POINT.c.item_id, POINT.c.at)).all()
    return [(r.item_id, r.source_id, r.at, r.count) for r in rows]


def test_a_point_is_recorded_only_when_a_source_reports_another_count(engine: Engine) -> None:
    sources = setup_sources(
        engine, SourceConfig(FEED_URL, "feed", "blog"), SourceConfig(TAG_URL, "tag", "go tag")
    )
    feed, tag = sources[FEED_URL], sources[TAG_URL]
    polls = [  # (time, source, count)
        (at(2, 0), feed, 10),
        (at(2, 1), feed, 10),  # the same count: nothing new
        (at(2, 2), feed, 14),
        (at(2, 3), tag, 14),  # another source: its own point
        (at(2, 4), tag, 14),
        (at(2, 5), feed, 12),  # a count may also go down
        (at(2, 6), feed, None),  # no count reported: nothing recorded
    ]
    for when, source, count in polls:
        write(engine, source, [entry(LINK, "post", at(1), count=count)], when)
    write(engine, feed, [entry("https://example.org/other", "no count", at(1))], at(2, 7))
    [item_id] = {p[0] for p in points(engine)}  # the entry with no count left no point
    assert points(engine) == [
        (item_id, feed.id, at(2, 0), 10),
        (item_id, feed.id, at(2, 2), 14),
        (item_id, feed.id, at(2, 5), 12),
        (item_id, tag.id, at(2, 3), 14),
    ]


def test_entries_of_one_write_are_recorded_together(engine: Engine) -> None:
    feed = setup_sources(engine, SourceConfig(FEED_URL, "feed", "blog"))[FEED_URL]
    batch = [entry(f"https://example.org/{n}", f"post {n}", at(1), count=n) for n in range(1, 6)]
    write(engine, feed, batch, at(3))
    assert sorted((count, when) for _, _, when, count in points(engine)) == [(n, at(3)) for n in range(1, 6)]


def expected_survivors(recorded: list[Point], now: datetime) -> set[Point]:
    """The rule, applied to the test's own points: an hour more than a day old keeps its last point
    per (item, source); then a day more than 30 days old keeps its last."""
    kept = set(recorded)
    for age, floor in (
        (timedelta(days=1), lambda t: t.replace(minute=0, second=0, microsecond=0)),
        (timedelta(days=30), lambda t: t.replace(hour=0, minute=0, second=0, microsecond=0)),
    ):
        end = floor(now - age)
        last: dict[tuple[int, int, datetime], datetime] = {}
        for item, source, when in kept:
            if when < end:
                bucket = (item, source, floor(when))
                last[bucket] = max(last.get(bucket, when), when)
        kept = {(i, s, t) for i, s, t in kept if t >= end or last[(i, s, floor(t))] == t}
    return kept


def forty_days_of_points(start: datetime) -> list[tuple[datetime, list[tuple[int, int, int]]]]:
    """Every 25 minutes, three (item, source) pairs report a growing count."""
    steps = []
    for n in range(40 * 24 * 60 // 25):
        steps.append((start + timedelta(minutes=25 * n), [(1, 1, n), (1, 2, 2 * n), (2, 1, n + 7)]))
    return steps


def test_compaction_as_the_clock_moves_keeps_hourly_then_daily_points(engine: Engine) -> None:
    start = at(1, 0, 10)
    recorded: list[Point] = []
    next_compaction = start + timedelta(days=1)
    for when, batch in forty_days_of_points(start):
        with engine.begin() as conn:
            record_points(conn, batch, when)
            if when >= next_compaction:
                compact_history(conn, when)
                next_compaction += timedelta(days=1)
        recorded += [(i, s, when) for i, s, _ in batch]
    now = recorded[-1][2] + timedelta(minutes=5)
    with engine.begin() as conn:
        assert compact_history(conn, now).caught_up
    survivors = {(i, s, t) for i, s, t, _ in points(engine)}
    assert survivors == expected_survivors(recorded, now)
    old_days = {t.date() for _, _, t in survivors if t < now - timedelta(days=31)}
    assert len([p for p in survivors if p[0] == 1 and p[1] == 1 and p[2].date() in old_days]) == len(old_days)
    assert len(survivors) < len(recorded) / 2


def test_a_long_backlog_is_compacted_in_bounded_steps(engine: Engine) -> None:
    start = at(1, 0, 10)
    recorded: list[Point] = []
    with engine.begin() as conn:
        for when, batch in forty_days_of_points(start):
            record_points(conn, batch, when)
            recorded += [(i, s, when) for i, s, _ in batch]
    now = recorded[-1][2] + timedelta(minutes=5)
    steps = 0
    while True:
        steps += 1
        with engine.begin() as conn:
            if compact_history(conn, now, span=timedelta(days=5)).caught_up:
                break
    assert steps > 1  # 39 days of aged hours do not fit in one 5-day step
    assert {(i, s, t) for i, s, t, _ in points(engine)} == expected_survivors(recorded, now)
    with engine.begin() as conn:
        assert compact_history(conn, now).deleted == 0
