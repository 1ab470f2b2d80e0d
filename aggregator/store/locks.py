"""Named leases with an expiry: one poll run at a time, and a killed run's lease runs out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Engine

from ..models import RunLock, table_of
from .common import insert_for, wrap_storage_errors

LOCK = table_of(RunLock)


@dataclass(frozen=True)
class Holder:
    owner: str
    acquired_at: datetime | None
    expires_at: datetime | None


@wrap_storage_errors()
def acquire(
    engine: Engine, name: str, owner: str, ttl: float, now: datetime, *, stale_owner: str | None = None
) -> Holder | None:
    """Take the lease ``name`` for ``owner``; ``None`` on success, else who holds it.

    An expired lease is taken over, and so is one held by ``stale_owner`` (a
    holder known to be dead). Atomic on SQLite and PostgreSQL: one UPDATE
    guarded by the expiry, after an INSERT that only the first caller wins.
    """
    expires = now + timedelta(seconds=ttl)
    with engine.begin() as conn:
        conn.execute(insert_for(conn, LOCK).values(name=name).on_conflict_do_nothing(index_elements=["name"]))
    with engine.begin() as conn:
        taken = conn.execute(
            update(LOCK)
            .where(
                LOCK.c.name == name,
                or_(
                    LOCK.c.owner.is_(None),
                    LOCK.c.expires_at.is_(None),
                    LOCK.c.expires_at < now,
                    LOCK.c.owner == owner,
                    LOCK.c.owner == (stale_owner or owner),
                ),
            )
            .values(owner=owner, acquired_at=now, expires_at=expires)
        ).rowcount
        if taken:
            return None
        row = conn.execute(select(LOCK).where(LOCK.c.name == name)).mappings().one()
        return Holder(row["owner"], row["acquired_at"], row["expires_at"])


@wrap_storage_errors()
def renew(engine: Engine, name: str, owner: str, ttl: float, now: datetime) -> bool:
    """Extend our lease; False if it was lost (expired and taken by another run)."""
    with engine.begin() as conn:
        return bool(
            conn.execute(
                update(LOCK)
                .where(and_(LOCK.c.name == name, LOCK.c.owner == owner))
                .values(expires_at=now + timedelta(seconds=ttl))
            ).rowcount
        )


@wrap_storage_errors()
def release(engine: Engine, name: str, owner: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(LOCK)
            .where(LOCK.c.name == name, LOCK.c.owner == owner)
            .values(owner=None, acquired_at=None, expires_at=None)
        )
