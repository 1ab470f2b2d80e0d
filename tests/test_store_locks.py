"""store.locks: a named lease with an expiry, on SQLite and PostgreSQL, with ``now`` passed in.

Every case sets the clock explicitly: nothing here waits for time to pass.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from aggregator.store import locks

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
TTL = 60.0
NAME = "poll"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def row(engine: Engine, name: str = NAME) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(conn.execute(select(locks.LOCK).where(locks.LOCK.c.name == name)).mappings().one())


# (what happens, who holds the lease first (taken at T0 for TTL) or None, who asks, seconds after T0,
#  stale_owner, who holds it afterwards)
ACQUIRE = [
    ("a free lease is taken", None, "b", 0, None, "b"),
    ("a live lease is refused", "a", "b", 30, None, "a"),
    ("a lease at its expiry instant is still live", "a", "b", TTL, None, "a"),
    ("an expired lease is taken over", "a", "b", TTL + 1, None, "b"),
    ("the holder takes its own lease again", "a", "a", 30, None, "a"),
    ("a live lease of a known-dead holder is taken", "a", "b", 30, "a", "b"),
    ("naming another dead holder does not help", "a", "b", 30, "c", "a"),
]


@pytest.mark.parametrize(
    ("first", "asker", "seconds", "stale", "holder"),
    [pytest.param(*case[1:], id=case[0]) for case in ACQUIRE],
)
def test_acquire(
    engine: Engine, first: str | None, asker: str, seconds: float, stale: str | None, holder: str
) -> None:
    if first is not None:
        assert locks.acquire(engine, NAME, first, TTL, T0) is None
    result = locks.acquire(engine, NAME, asker, TTL, at(seconds), stale_owner=stale)
    stored = row(engine)
    assert stored["owner"] == holder
    if holder == asker:
        assert result is None
        assert stored["acquired_at"] == at(seconds) and stored["expires_at"] == at(seconds + TTL)
    else:
        assert result == locks.Holder(holder, T0, at(TTL))
        assert stored["expires_at"] == at(TTL)  # a refused ask changes nothing


def test_leases_are_independent_by_name(engine: Engine) -> None:
    assert locks.acquire(engine, "one", "a", TTL, T0) is None
    assert locks.acquire(engine, "two", "b", TTL, T0) is None
    assert (row(engine, "one")["owner"], row(engine, "two")["owner"]) == ("a", "b")


def test_renewal_keeps_a_lease_past_its_first_expiry(engine: Engine) -> None:
    assert locks.acquire(engine, NAME, "a", TTL, T0) is None
    assert locks.renew(engine, NAME, "a", TTL, at(50)) is True
    assert row(engine)["expires_at"] == at(50 + TTL)
    assert locks.acquire(engine, NAME, "b", TTL, at(TTL + 1)) == locks.Holder("a", T0, at(50 + TTL))


def test_renewal_fails_once_another_run_took_the_lease(engine: Engine) -> None:
    assert locks.acquire(engine, NAME, "a", TTL, T0) is None
    assert locks.acquire(engine, NAME, "b", TTL, at(TTL + 1)) is None
    assert locks.renew(engine, NAME, "a", TTL, at(TTL + 2)) is False
    assert row(engine)["owner"] == "b" and row(engine)["expires_at"] == at(2 * TTL + 1)


def test_release_frees_the_lease_for_its_holder_only(engine: Engine) -> None:
    assert locks.acquire(engine, NAME, "a", TTL, T0) is None
    locks.release(engine, NAME, "b")
    assert row(engine)["owner"] == "a"
    locks.release(engine, NAME, "a")
    assert (row(engine)["owner"], row(engine)["expires_at"]) == (None, None)
    assert locks.acquire(engine, NAME, "b", TTL, at(1)) is None
