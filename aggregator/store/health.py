"""How polling keeps up, read at scrape time for ``/metrics``: ``PollHealth`` (sources
enabled, in error, due, and how late the most overdue one is) from ``poll_health``.
Cheap by design: one pass over the source table (one row per feed, never the items)
and the earliest due time from the ``next_poll_at`` index. Recording polls belongs to
``sources``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from ..models import Source, table_of
from ..views import FAILED
from .common import wrap_storage_errors

SOURCE = table_of(Source)


@dataclass(frozen=True)
class PollHealth:
    """The sources the poller owes a poll, and how late it is with them."""

    enabled: int  # sources polled (neither removed from the configuration nor gone)
    in_error: int  # enabled sources whose last poll failed, gone (410) ones included
    due: int  # polled sources whose next poll time has come (never polled ones too)
    lag_seconds: float  # how long ago the earliest due poll was due; 0 when none is late


@wrap_storage_errors()
def poll_health(conn: Connection, now: datetime) -> PollHealth:
    """Counts of enabled, failing and due sources, and the lag of the most overdue one."""
    polled = SOURCE.c.enabled.is_(True) & SOURCE.c.gone.is_(False)
    is_due = polled & or_(SOURCE.c.next_poll_at.is_(None), SOURCE.c.next_poll_at <= now)
    counts = conn.execute(
        select(
            func.count().filter(polled),
            func.count().filter(SOURCE.c.enabled.is_(True) & SOURCE.c.last_status.in_(FAILED)),
            func.count().filter(is_due),
        ).select_from(SOURCE)
    ).one()
    earliest = conn.execute(
        select(func.min(SOURCE.c.next_poll_at)).where(polled, SOURCE.c.next_poll_at <= now)
    ).scalar()
    lag = max(0.0, (now - earliest).total_seconds()) if earliest is not None else 0.0
    return PollHealth(int(counts[0]), int(counts[1]), int(counts[2]), lag)
