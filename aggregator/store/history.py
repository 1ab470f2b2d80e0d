"""Bookmark-count history: the points a poll records, and their compaction.

A point is (item, source, time, count): written by ``record_points`` in the poll's own
transaction when a source reports a count other than the one it reported before.
``compact_history`` keeps the table small: once an hour (UTC) is more than a day old,
only the last point of each (item, source) in that hour stays; once a day (UTC) is more
than 30 days old, only the last of that day. Each stage remembers in ``meta`` where it
stopped, so a run reads only the hours and days that aged since the last one (at most
``MAX_SPAN`` of them). The rising sort that reads these points is in ``ordering``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from ..models import BookmarkPoint, Meta, table_of
from .common import chunks, insert_for, wrap_storage_errors

POINT = table_of(BookmarkPoint)
META = table_of(Meta)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MAX_SPAN = timedelta(days=7)  # of aged history one run compacts, per stage


@dataclass(frozen=True)
class Stage:
    """Once a bucket (an hour, a day) is older than ``age``, its last point per (item, source) stays."""

    name: str  # the meta key that remembers where the stage stopped
    bucket: timedelta
    age: timedelta


STAGES = (Stage("history_hourly_from", HOUR, DAY), Stage("history_daily_from", DAY, 30 * DAY))


@dataclass(frozen=True)
class Compacted:
    deleted: int = 0
    caught_up: bool = True  # False: aged history is left for the next run (``MAX_SPAN``)


@wrap_storage_errors()
def record_points(conn: Connection, points: Sequence[tuple[int, int, int]], now: datetime) -> None:
    """Record (item id, source id, count) points at ``now``, in bulk; one per (item, source)."""
    rows = {(item_id, source_id): count for item_id, source_id, count in points}
    values = [{"item_id": i, "source_id": s, "at": now, "count": c} for (i, s), c in sorted(rows.items())]
    for batch in chunks(values):
        stmt = insert_for(conn, POINT)
        stmt = stmt.on_conflict_do_update(
            index_elements=["item_id", "source_id", "at"], set_={"count": stmt.excluded["count"]}
        )
        conn.execute(stmt, list(batch))


@wrap_storage_errors()
def compact_history(conn: Connection, now: datetime, *, span: timedelta = MAX_SPAN) -> Compacted:
    """Drop the points that aged out of their resolution (hourly after a day, daily after 30 days)."""
    deleted, caught_up = 0, True
    for stage in STAGES:
        end = floor_to(now - stage.age, stage.bucket)  # buckets wholly older than the age
        start = _stage_start(conn, stage)
        if start is None:
            start = _oldest_point(conn)
            if start is None:
                return Compacted(deleted, caught_up)
            start = floor_to(start, stage.bucket)
        if start >= end:
            continue
        if end - start > span:
            end, caught_up = floor_to(start + span, stage.bucket), False
        deleted += _compact_range(conn, stage.bucket, start, end)
        _save_stage_start(conn, stage, end)
    return Compacted(deleted, caught_up)


def floor_to(when: datetime, bucket: timedelta) -> datetime:
    """The start of the UTC bucket (an hour, a day) ``when`` falls in."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + (when.astimezone(UTC) - epoch) // bucket * bucket


def _compact_range(conn: Connection, bucket: timedelta, start: datetime, end: datetime) -> int:
    """Delete each point in [start, end) that a later point of its (item, source) shares a bucket with."""
    later = POINT.alias("later")
    result = conn.execute(
        delete(POINT).where(
            POINT.c.at >= start,
            POINT.c.at < end,
            exists().where(
                later.c.item_id == POINT.c.item_id,
                later.c.source_id == POINT.c.source_id,
                later.c.at > POINT.c.at,
                later.c.at < end,
                _bucket(conn, later.c.at, bucket) == _bucket(conn, POINT.c.at, bucket),
            ),
        )
    )
    return int(result.rowcount or 0)


def _bucket(conn: Connection, column: ColumnElement[Any], bucket: timedelta) -> ColumnElement[Any]:
    if conn.dialect.name == "postgresql":
        return func.date_trunc("hour" if bucket == HOUR else "day", column)
    # SQLite keeps times as "YYYY-MM-DD HH:MM:SS.ffffff" text.
    return func.substr(column, 1, 13 if bucket == HOUR else 10)


def _stage_start(conn: Connection, stage: Stage) -> datetime | None:
    value = conn.execute(select(META.c.value).where(META.c.key == stage.name)).scalar()
    return None if value is None else datetime.fromtimestamp(int(value), UTC)


def _save_stage_start(conn: Connection, stage: Stage, when: datetime) -> None:
    seconds = int(when.timestamp())
    if conn.execute(update(META).where(META.c.key == stage.name).values(value=seconds)).rowcount == 0:
        conn.execute(insert_for(conn, META).values(key=stage.name, value=seconds).on_conflict_do_nothing())


def _oldest_point(conn: Connection) -> datetime | None:
    oldest: datetime | None = conn.execute(select(func.min(POINT.c.at))).scalar()
    return oldest


@wrap_storage_errors()
def move_points(conn: Connection, loser: int, winner: int) -> None:
    """An item merged into another takes its history along (on a clash, the winner's point stays)."""
    mine = POINT.alias("mine")
    clash = exists().where(
        and_(mine.c.item_id == winner, mine.c.source_id == POINT.c.source_id, mine.c.at == POINT.c.at)
    )
    conn.execute(update(POINT).where(POINT.c.item_id == loser, ~clash).values(item_id=winner))
    conn.execute(delete(POINT).where(POINT.c.item_id == loser))
