"""WebSub subscriptions: intents recorded by ``POST /websub``, claimed by the hub's workers.

``request_intent`` records a subscribe or unsubscribe to verify (the live subscription, if
any, is left as it is until the callback confirms). A worker ``claim``s the rows that wait
for something (an intent to verify, or an active subscription whose next attempt is due):
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and on both databases an UPDATE that takes only
rows no live claim holds, so two workers never take the same row. Every outcome is
written only while the worker's claim still holds it (``owner``); a killed worker's claims
run out and another takes the rows. Deciding what to send belongs to ``aggregator.websub``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, case, delete, exists, or_, select, update
from sqlalchemy.engine import Connection, Engine

from ..models import Subscription, table_of
from .common import insert_for, wrap_storage_errors

SUBSCRIPTION = table_of(Subscription)
Mode = Literal["subscribe", "unsubscribe"]
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class SubscriptionState:
    """A claimed subscription: what the worker needs to verify it or deliver to it."""

    id: int
    topic: str
    callback: str
    active: bool
    secret: str | None
    expires_at: datetime | None
    etag: str | None
    pending_mode: str | None
    pending_secret: str | None
    pending_lease: int | None
    attempts: int


def subscription_key(topic: str, callback: str) -> str:
    return hashlib.sha256(f"{topic}\n{callback}".encode()).hexdigest()


@wrap_storage_errors()
def request_intent(
    conn: Connection,
    mode: Mode,
    topic: str,
    callback: str,
    *,
    secret: str | None,
    lease_seconds: int,
    etag: str | None,
    now: datetime,
) -> bool:
    """Record an intent to verify; False for an unsubscribe of a subscription that does not exist.

    A new subscription starts from ``etag``, the topic's ETag now, so its first delivery is the
    topic's first change; one that is active keeps the ETag it was last sent.
    """
    key = subscription_key(topic, callback)
    pending = {
        "pending_mode": mode,
        "pending_secret": secret,
        "pending_lease": lease_seconds,
        "next_attempt_at": None,
    }
    if mode == "unsubscribe":
        changed = conn.execute(update(SUBSCRIPTION).where(SUBSCRIPTION.c.key_hash == key).values(**pending))
        return bool(changed.rowcount)
    stmt = insert_for(conn, SUBSCRIPTION).values(
        key_hash=key,
        topic=topic,
        callback=callback,
        etag=etag,
        attempts=0,
        active=False,
        created_at=now,
        **pending,
    )
    keep = case((SUBSCRIPTION.c.active.is_(True), SUBSCRIPTION.c.etag), else_=stmt.excluded.etag)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key_hash"], set_={**pending, "etag": keep}))
    return True


@wrap_storage_errors()
def has_work(conn: Connection) -> bool:
    """True when any subscription is active or waits for its verification: the hub has work to look at."""
    return bool(conn.execute(select(exists().where(_is_waiting()))).scalar())


@wrap_storage_errors()
def remove_expired(engine: Engine, now: datetime) -> int:
    """End the subscriptions whose lease ran out: removed, or inactive while an intent waits; how many."""
    over = and_(SUBSCRIPTION.c.active.is_(True), SUBSCRIPTION.c.expires_at < now, _is_free(now))
    with engine.begin() as conn:
        removed = conn.execute(
            delete(SUBSCRIPTION).where(over, SUBSCRIPTION.c.pending_mode.is_(None))
        ).rowcount
        ended = conn.execute(update(SUBSCRIPTION).where(over).values(active=False, expires_at=None)).rowcount
        return int(removed) + int(ended)


@wrap_storage_errors()
def claim(
    engine: Engine, owner: str, now: datetime, ttl: float, *, limit: int, skip: Collection[int] = ()
) -> list[SubscriptionState]:
    """Lease up to ``limit`` subscriptions with something due to ``owner`` until ``now + ttl``.

    Due: an intent to verify, or an active subscription whose next attempt has come. ``skip``:
    the rows this worker already handled in this run.
    """
    lost: set[int] = set()
    while True:
        due = and_(
            _is_waiting(),
            or_(SUBSCRIPTION.c.next_attempt_at.is_(None), SUBSCRIPTION.c.next_attempt_at <= now),
            _is_free(now),
            SUBSCRIPTION.c.id.not_in([*skip, *lost]),
        )
        with engine.begin() as conn:
            order = (
                SUBSCRIPTION.c.next_attempt_at.is_not(None),
                SUBSCRIPTION.c.next_attempt_at,
                SUBSCRIPTION.c.id,
            )
            picked = select(SUBSCRIPTION.c.id).where(due).order_by(*order).limit(limit)
            ids = list(conn.execute(picked.with_for_update(skip_locked=True)).scalars())
            if not ids:
                return []
            expires = now + timedelta(seconds=ttl)
            conn.execute(
                update(SUBSCRIPTION)
                .where(SUBSCRIPTION.c.id.in_(ids), due)
                .values(claim_owner=owner, claim_expires=expires)
            )
            mine = and_(SUBSCRIPTION.c.id.in_(ids), SUBSCRIPTION.c.claim_owner == owner)
            rows = conn.execute(select(SUBSCRIPTION).where(mine).order_by(SUBSCRIPTION.c.id)).mappings()
            claimed = [_state(row) for row in rows]
        if claimed:
            return claimed
        # SQLite has no row locks: another worker claimed the same rows first. Try the others.
        lost.update(ids)


@wrap_storage_errors()
def record_verified(
    engine: Engine, row: SubscriptionState, owner: str, now: datetime, etag: str | None
) -> None:
    """The callback confirmed the intent: the subscription is live (or, unsubscribing, gone).

    ``etag`` is the topic's ETag now, for a subscription that has none yet.
    """
    with engine.begin() as conn:
        if row.pending_mode == "unsubscribe":
            conn.execute(delete(SUBSCRIPTION).where(_claimed(row.id, owner)))
            return
        lease = timedelta(seconds=row.pending_lease or 0)
        conn.execute(
            update(SUBSCRIPTION)
            .where(_claimed(row.id, owner))
            .values(
                active=True,
                secret=row.pending_secret,
                expires_at=now + lease,
                etag=row.etag or etag,
                attempts=0,
                last_error=None,
                **_NO_INTENT,
                **_NO_CLAIM,
            )
        )


@wrap_storage_errors()
def record_refused(engine: Engine, row: SubscriptionState, owner: str, error: str) -> None:
    """The callback did not confirm the intent: it is forgotten; a subscription never verified goes."""
    with engine.begin() as conn:
        if not row.active:
            conn.execute(delete(SUBSCRIPTION).where(_claimed(row.id, owner)))
            return
        values: dict[str, Any] = {"last_error": error[:MAX_ERROR_CHARS], **_NO_INTENT, **_NO_CLAIM}
        conn.execute(update(SUBSCRIPTION).where(_claimed(row.id, owner)).values(**values))


@wrap_storage_errors()
def record_delivered(engine: Engine, row_id: int, owner: str, etag: str) -> None:
    """The subscriber took the topic as it is at ``etag``."""
    values: dict[str, Any] = {"etag": etag, "attempts": 0, "next_attempt_at": None, "last_error": None}
    with engine.begin() as conn:
        conn.execute(update(SUBSCRIPTION).where(_claimed(row_id, owner)).values(**values, **_NO_CLAIM))


@wrap_storage_errors()
def record_failed(
    engine: Engine, row_id: int, owner: str, attempts: int, retry_at: datetime, error: str
) -> None:
    """A delivery failed: tried again at ``retry_at``, ``attempts`` failures in a row."""
    values: dict[str, Any] = {
        "attempts": attempts,
        "next_attempt_at": retry_at,
        "last_error": error[:MAX_ERROR_CHARS],
    }
    with engine.begin() as conn:
        conn.execute(update(SUBSCRIPTION).where(_claimed(row_id, owner)).values(**values, **_NO_CLAIM))


@wrap_storage_errors()
def drop(engine: Engine, row_id: int, owner: str) -> None:
    """Remove a subscription (its callback kept failing, or its topic no longer exists)."""
    with engine.begin() as conn:
        conn.execute(delete(SUBSCRIPTION).where(_claimed(row_id, owner)))


@wrap_storage_errors()
def release(engine: Engine, owner: str) -> int:
    """Give up every claim ``owner`` still holds; return how many."""
    with engine.begin() as conn:
        done = conn.execute(
            update(SUBSCRIPTION).where(SUBSCRIPTION.c.claim_owner == owner).values(**_NO_CLAIM)
        )
        return int(done.rowcount)


_NO_INTENT: dict[str, Any] = {"pending_mode": None, "pending_secret": None, "pending_lease": None}
_NO_CLAIM: dict[str, Any] = {"claim_owner": None, "claim_expires": None}


def _claimed(row_id: int, owner: str) -> ColumnElement[bool]:
    return and_(SUBSCRIPTION.c.id == row_id, SUBSCRIPTION.c.claim_owner == owner)


def _is_waiting() -> ColumnElement[bool]:
    return or_(SUBSCRIPTION.c.active.is_(True), SUBSCRIPTION.c.pending_mode.is_not(None))


def _is_free(now: datetime) -> ColumnElement[bool]:
    """No live claim: none, or one that ran out (a claim at its expiry instant still holds)."""
    return or_(SUBSCRIPTION.c.claim_owner.is_(None), SUBSCRIPTION.c.claim_expires < now)


def _state(row: Any) -> SubscriptionState:
    return SubscriptionState(
        id=row["id"],
        topic=row["topic"],
        callback=row["callback"],
        active=bool(row["active"]),
        secret=row["secret"],
        expires_at=row["expires_at"],
        etag=row["etag"],
        pending_mode=row["pending_mode"],
        pending_secret=row["pending_secret"],
        pending_lease=row["pending_lease"],
        attempts=row["attempts"],
    )
