"""Per-source leases: several pollers on one database share the due sources.

A poller ``claim``s a batch of due sources: under the claim lock (a PostgreSQL
transaction-level advisory lock, so claims run one after another and the host
counts below are exact; SQLite has a single poller, under the run lock) it reads
the due sources that no live lease holds, picks up to ``limit`` of them without
letting any host carry more than ``per_host`` live leases (every poller's leases
count), locks the picked rows ``FOR UPDATE SKIP LOCKED`` and writes its name and an
expiry on them. ``sources.record_poll`` clears the lease in the transaction that
records the poll; ``renew`` pushes the expiry of a live poller's leases on; a
killed poller's leases run out and its sources are claimed by the others.

A forced run is a sweep: ``join_sweep`` returns the start of the sweep under way
(or starts one), and a forced claim takes the sources not polled since then, so
several forced pollers fetch each source once between them. ``end_sweep`` closes
it once every source was polled since its start.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, text, update
from sqlalchemy.engine import Connection, Engine

from .common import insert_for, wrap_storage_errors
from .locks import LOCK
from .sources import SOURCE, SourceState, fetch_url_of, state_of

CLAIM_LOCK = 0x6167_6772_0001  # pg_advisory_xact_lock key: "aggr" + 1
CLAIM_WINDOW = 2000  # due sources read per claim (oldest first) to pick from
SWEEP = "force"


@dataclass(frozen=True)
class Claim:
    """The sources a claim leased, and how many due ones it left (a host at its limit, the batch full,
    or a row another writer holds): when ``left`` is 0, nothing is left to claim until more come due."""

    sources: list[SourceState]
    left: int


@wrap_storage_errors()
def claim(
    engine: Engine,
    owner: str,
    now: datetime,
    ttl: float,
    *,
    limit: int,
    per_host: int,
    since: datetime | None = None,
    skip: Collection[int] = (),
) -> Claim:
    """Lease up to ``limit`` due sources to ``owner`` until ``now + ttl``, oldest due first.

    Due: the next poll time has come, or (a forced run, ``since`` given) not polled since ``since``.
    ``skip``: the sources this poller already polled in this run, due or not (a clock that did
    not move since would make them look unpolled).
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})
        claimable = and_(_is_due(now, since), _is_free(now))
        columns = (SOURCE.c.id, SOURCE.c.url, SOURCE.c.redirect_url, SOURCE.c.redirect_count)
        candidates = conn.execute(
            select(*columns).where(claimable).order_by(*_oldest_first()).limit(CLAIM_WINDOW)
        ).all()
        candidates = [row for row in candidates if row.id not in skip]
        load = _live_leases_by_host(conn, now)
        picked: list[int] = []
        for row in candidates:
            if len(picked) >= limit:
                break
            host = host_of(fetch_url_of(row.url, row.redirect_url, row.redirect_count))
            if load[host] < per_host:
                load[host] += 1
                picked.append(row.id)
        if not picked:
            return Claim([], len(candidates))
        locked = list(
            conn.execute(
                select(SOURCE.c.id)
                .where(SOURCE.c.id.in_(picked), claimable)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        if locked:
            conn.execute(
                update(SOURCE)
                .where(SOURCE.c.id.in_(locked))
                .values(lease_owner=owner, lease_expires=now + timedelta(seconds=ttl))
            )
        rows = conn.execute(select(SOURCE).where(SOURCE.c.id.in_(locked))).mappings()
        by_id = {row["id"]: state_of(row) for row in rows}
        return Claim([by_id[i] for i in picked if i in by_id], len(candidates) - len(by_id))


def _live_leases_by_host(conn: Connection, now: datetime) -> Counter[str]:
    """How many live leases (every poller's) each host carries."""
    rows = conn.execute(
        select(SOURCE.c.url, SOURCE.c.redirect_url, SOURCE.c.redirect_count).where(
            SOURCE.c.lease_owner.is_not(None), SOURCE.c.lease_expires >= now
        )
    )
    return Counter(host_of(fetch_url_of(r.url, r.redirect_url, r.redirect_count)) for r in rows)


def host_of(url: str) -> str:
    """The host a fetch of ``url`` connects to, as the per-host limit counts it."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


@wrap_storage_errors()
def renew(engine: Engine, owner: str, ttl: float, now: datetime) -> int:
    """Extend every lease ``owner`` still holds to ``now + ttl``; return how many."""
    with engine.begin() as conn:
        return int(
            conn.execute(
                update(SOURCE)
                .where(SOURCE.c.lease_owner == owner)
                .values(lease_expires=now + timedelta(seconds=ttl))
            ).rowcount
        )


@wrap_storage_errors()
def release(engine: Engine, owner: str) -> int:
    """Give up every lease ``owner`` still holds (sources it did not record); return how many."""
    with engine.begin() as conn:
        return int(
            conn.execute(
                update(SOURCE)
                .where(SOURCE.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires=None)
            ).rowcount
        )


@wrap_storage_errors()
def clear(engine: Engine) -> None:
    """Void every lease and the forced sweep: for the one poller of an SQLite database, whatever a
    killed run left is stale."""
    with engine.begin() as conn:
        conn.execute(
            update(SOURCE)
            .where(SOURCE.c.lease_owner.is_not(None))
            .values(lease_owner=None, lease_expires=None)
        )
        conn.execute(update(LOCK).where(LOCK.c.name == SWEEP).values(owner=None, expires_at=None))


@wrap_storage_errors()
def join_sweep(engine: Engine, owner: str, ttl: float, now: datetime) -> datetime:
    """The start of the forced sweep under way, or of a new one: ``now``, or just after the latest
    poll if that is not before ``now`` (a clock that did not move), so the new sweep takes every
    source. Either lives ``ttl`` more."""
    expires = now + timedelta(seconds=ttl)
    with engine.begin() as conn:
        conn.execute(
            insert_for(conn, LOCK).values(name=SWEEP).on_conflict_do_nothing(index_elements=["name"])
        )
        row = conn.execute(select(LOCK).where(LOCK.c.name == SWEEP).with_for_update()).mappings().one()
        live = row["owner"] is not None and row["expires_at"] is not None and row["expires_at"] >= now
        if live and row["acquired_at"] is not None:
            since: datetime = row["acquired_at"]
            values: dict[str, Any] = {"expires_at": max(row["expires_at"], expires)}
        else:
            latest = conn.execute(select(func.max(SOURCE.c.last_polled_at)).where(_is_active())).scalar()
            since = now if latest is None or latest < now else latest + timedelta(microseconds=1)
            values = {"owner": owner, "acquired_at": since, "expires_at": expires}
        conn.execute(update(LOCK).where(LOCK.c.name == SWEEP).values(**values))
        return since


@wrap_storage_errors()
def renew_sweep(engine: Engine, since: datetime, ttl: float, now: datetime) -> bool:
    """Keep the sweep that started at ``since`` alive; False when it ended or another replaced it."""
    with engine.begin() as conn:
        return bool(
            conn.execute(
                update(LOCK)
                .where(LOCK.c.name == SWEEP, LOCK.c.acquired_at == since, LOCK.c.owner.is_not(None))
                .values(expires_at=now + timedelta(seconds=ttl))
            ).rowcount
        )


@wrap_storage_errors()
def end_sweep(engine: Engine, since: datetime) -> bool:
    """Close the sweep that started at ``since`` when every source was polled since; True if closed."""
    with engine.begin() as conn:
        unpolled = conn.execute(select(exists().where(_is_active(), _not_polled_since(since)))).scalar()
        if unpolled:
            return False
        return bool(
            conn.execute(
                update(LOCK)
                .where(LOCK.c.name == SWEEP, LOCK.c.acquired_at == since)
                .values(owner=None, expires_at=None)
            ).rowcount
        )


def _is_active() -> ColumnElement[bool]:
    return and_(SOURCE.c.enabled.is_(True), SOURCE.c.gone.is_(False))


def _not_polled_since(since: datetime) -> ColumnElement[bool]:
    return or_(SOURCE.c.last_polled_at.is_(None), SOURCE.c.last_polled_at < since)


def _is_due(now: datetime, since: datetime | None) -> ColumnElement[bool]:
    if since is not None:
        return and_(_is_active(), _not_polled_since(since))
    return and_(_is_active(), or_(SOURCE.c.next_poll_at.is_(None), SOURCE.c.next_poll_at <= now))


def _is_free(now: datetime) -> ColumnElement[bool]:
    """No live lease: none, or one that expired (a lease at its expiry instant is still live)."""
    return or_(SOURCE.c.lease_owner.is_(None), SOURCE.c.lease_expires.is_(None), SOURCE.c.lease_expires < now)


def _oldest_first() -> tuple[Any, ...]:
    return (SOURCE.c.next_poll_at.is_not(None), SOURCE.c.next_poll_at, SOURCE.c.id)
