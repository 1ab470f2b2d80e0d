"""Sources: sync them from the configuration, pick the due ones (``SourceState``, what the
poller needs), record each poll's outcome (``SourceUpdate``, what a poll asks storage to write).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection

from ..errors import Category
from ..models import Source, table_of
from ..views import PollStatus, source_label
from .audience import reclassify_items
from .common import insert_for, wrap_storage_errors
from .records import SourceSpec

SOURCE = table_of(Source)
MAX_ERROR = 500
REDIRECTS_TO_MOVE = 3


@dataclass(frozen=True)
class SourceState:
    """What the poller needs of a source to poll it."""

    id: int
    url: str
    kind: str
    label: str  # views.source_label: what to call the source
    tags: tuple[str, ...]
    interval: int | None
    allow_private: bool | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    consecutive_errors: int
    redirect_url: str | None
    redirect_count: int
    next_poll_at: datetime | None
    private: bool = False  # its items show only in private outputs

    @property
    def fetch_url(self) -> str:
        """The configured URL, or where it moved after repeated permanent redirects."""
        return fetch_url_of(self.url, self.redirect_url, self.redirect_count)


def fetch_url_of(url: str, redirect_url: str | None, redirect_count: int) -> str:
    """The URL a source is fetched from: ``url``, or where it moved after repeated permanent redirects."""
    if redirect_url and redirect_count >= REDIRECTS_TO_MOVE:
        return redirect_url
    return url


class Keep(enum.Enum):
    """A ``SourceUpdate`` field that leaves the stored value as it is."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


@dataclass(frozen=True)
class SourceUpdate:
    """What one poll records about a source: the columns it writes; ``KEEP`` leaves one as it is."""

    last_polled_at: datetime
    last_status: PollStatus
    last_http_status: int | None
    next_poll_at: datetime | None  # None: never again (410 Gone)
    consecutive_errors: int
    last_error: str | None
    error_category: Category | None
    gone: bool = False
    last_success_at: datetime | Keep = KEEP
    last_error_at: datetime | Keep = KEEP
    etag: str | Keep | None = KEEP
    last_modified: str | Keep | None = KEEP
    body_hash: str | Keep = KEEP
    feed_title: str | Keep | None = KEEP
    feed_link: str | Keep | None = KEEP
    feed_language: str | Keep | None = KEEP
    last_warning: str | Keep | None = KEEP
    redirect_url: str | Keep | None = KEEP
    redirect_count: int | Keep = KEEP

    def values(self) -> dict[str, Any]:
        """The columns to write, long texts cut to ``MAX_ERROR`` characters."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values = {k: v for k, v in values.items() if v is not KEEP}
        for name in ("last_error", "last_warning"):
            if values.get(name):
                values[name] = values[name][:MAX_ERROR]
        return values


@wrap_storage_errors()
def sync_sources(conn: Connection, sources: Sequence[SourceSpec], now: datetime) -> tuple[int, int]:
    """Make the configured sources match the config; return (added, disabled).

    A new source, and one whose kind, tags, interval, ``allow_private_networks`` or ``private``
    changed (or that comes back to the configuration), is due at once; a source that became
    private or public has its items reclassified at once (``audience.reclassify_items``).
    Sources that left the configuration are disabled, never deleted: their items stay. Rows that already match
    are not written, and a source another poller inserted meanwhile is left to it.
    """
    columns = (
        SOURCE.c.url,
        SOURCE.c.title,
        SOURCE.c.origin,
        SOURCE.c.enabled,
        SOURCE.c.kind,
        SOURCE.c.tags,
        SOURCE.c.interval_seconds,
        SOURCE.c.allow_private,
        SOURCE.c.private,
        SOURCE.c.id,
    )
    rows = {r.url: r for r in conn.execute(select(*columns))}
    added = 0
    for src in sources:
        values: dict[str, Any] = {
            "kind": src.kind,
            "title": src.title,
            "tags": list(src.tags),
            "interval_seconds": src.interval,
            "allow_private": src.allow_private_networks,
            "private": src.private,
            "origin": "config",
            "enabled": True,
        }
        known = rows.get(src.url)
        if known is not None and (
            known.kind != src.kind or list(known.tags or ()) != list(src.tags) or known.private != src.private
        ):
            # Items take the source's kind and tags when parsed: make the next poll fetch and parse again.
            values.update(body_hash=None, etag=None, last_modified=None)
        if known is not None and is_changed(known, src):
            values["next_poll_at"] = None
        if known is None:
            insert = insert_for(conn, SOURCE).values(url=src.url, created_at=now, **values)
            inserted = insert.on_conflict_do_nothing(index_elements=["url"]).returning(SOURCE.c.id)
            added += len(conn.execute(inserted).all())
        elif is_changed(known, src) or known.title != src.title or known.origin != "config":
            conn.execute(update(SOURCE).where(SOURCE.c.url == src.url).values(**values))
    flipped = [rows[s.url].id for s in sources if s.url in rows and rows[s.url].private != s.private]
    if flipped:
        reclassify_items(conn, flipped)
    configured = {s.url for s in sources}
    stale = [u for u, r in rows.items() if r.origin == "config" and r.enabled and u not in configured]
    if stale:
        conn.execute(update(SOURCE).where(SOURCE.c.url.in_(stale)).values(enabled=False))
    return added, len(stale)


def is_changed(known: Any, src: SourceSpec) -> bool:
    """True when a stored source differs from its configuration in what it polls or how."""
    return (
        not known.enabled
        or known.kind != src.kind
        or list(known.tags or ()) != list(src.tags)
        or known.interval_seconds != src.interval
        or known.allow_private != src.allow_private_networks
        or known.private != src.private
    )


@wrap_storage_errors()
def move_sources(conn: Connection, moves: Mapping[str, str]) -> list[str]:
    """Give known sources a new URL (old -> new) unless the new one is known too; return those moved.

    The source keeps its id, items and history, so a moved feed is not a second source.
    """
    known = set(conn.execute(select(SOURCE.c.url)).scalars())
    moved = []
    for old, new in moves.items():
        if old in known and new not in known:
            conn.execute(update(SOURCE).where(SOURCE.c.url == old).values(url=new, next_poll_at=None))
            known.discard(old)
            known.add(new)
            moved.append(old)
    return moved


@wrap_storage_errors()
def add_sources(conn: Connection, sources: Iterable[SourceSpec], origin: str, now: datetime) -> list[str]:
    """Add sources that are not known yet (OPML import); return the URLs added."""
    known = set(conn.execute(select(SOURCE.c.url)).scalars())
    added = []
    for src in sources:
        if src.url in known:
            continue
        conn.execute(
            insert_for(conn, SOURCE).values(
                url=src.url,
                kind=src.kind,
                title=src.title,
                tags=list(src.tags),
                interval_seconds=src.interval,
                private=src.private,
                origin=origin,
                enabled=True,
                created_at=now,
            )
        )
        known.add(src.url)
        added.append(src.url)
    return added


@wrap_storage_errors()
def due_sources(conn: Connection, now: datetime, *, force: bool = False) -> list[SourceState]:
    """Enabled sources whose next poll is due (all enabled ones with ``force``), oldest first."""
    query = select(SOURCE).where(SOURCE.c.enabled.is_(True), SOURCE.c.gone.is_(False))
    if not force:
        query = query.where(or_(SOURCE.c.next_poll_at.is_(None), SOURCE.c.next_poll_at <= now))
    query = query.order_by(SOURCE.c.next_poll_at.is_not(None), SOURCE.c.next_poll_at, SOURCE.c.id)
    return [state_of(row) for row in conn.execute(query).mappings()]


@wrap_storage_errors()
def next_due_time(conn: Connection, now: datetime) -> datetime | None:
    """The earliest time an enabled source can be claimed: its next poll (``now`` for a never-polled
    one), or later, when a live lease holds it, the lease's expiry; None: no sources."""
    query = select(SOURCE.c.next_poll_at, SOURCE.c.lease_expires).where(
        SOURCE.c.enabled.is_(True), SOURCE.c.gone.is_(False)
    )
    times = [max(due or now, lease or now) for due, lease in conn.execute(query)]
    return min(times) if times else None


@wrap_storage_errors()
def record_poll(conn: Connection, source_id: int, outcome: SourceUpdate) -> None:
    """Store a poll's outcome on the source (status, validators, error, warning, schedule) and
    release its lease: the next claim sees it polled, never due and free in between."""
    values = outcome.values() | {"lease_owner": None, "lease_expires": None}
    conn.execute(update(SOURCE).where(SOURCE.c.id == source_id).values(**values))


def state_of(row: Any) -> SourceState:
    """The ``SourceState`` of a ``source`` row."""
    return SourceState(
        id=row["id"],
        url=row["url"],
        kind=row["kind"],
        label=source_label(row["url"], row["title"], row["feed_title"]),
        tags=tuple(row["tags"] or ()),
        interval=row["interval_seconds"],
        allow_private=row["allow_private"],
        private=bool(row["private"]),
        etag=row["etag"],
        last_modified=row["last_modified"],
        body_hash=row["body_hash"],
        consecutive_errors=row["consecutive_errors"],
        redirect_url=row["redirect_url"],
        redirect_count=row["redirect_count"],
        next_poll_at=row["next_poll_at"],
    )
