"""store.leases: claim, renew, release and expiry of per-source leases, and the forced sweep.

On SQLite and PostgreSQL (one poller at a time uses them on SQLite, under the run lock);
what needs several connections at once (SKIP LOCKED, concurrent claims) on PostgreSQL.
Every case passes ``now`` explicitly: nothing here waits for time to pass.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from aggregator.config import SourceConfig
from aggregator.db import make_engine
from aggregator.store import leases
from aggregator.store.sources import SOURCE, SourceUpdate, next_due_time, record_poll, sync_sources

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TTL = 60.0
MANY = 1000  # a per-host limit that never binds


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def add(engine: Engine, urls: list[str]) -> list[int]:
    """Configure ``urls`` (never polled: due at once); return their ids in that order."""
    with engine.begin() as conn:
        sync_sources(conn, [SourceConfig(url=u) for u in urls], T0)
        ids = dict(conn.execute(select(SOURCE.c.url, SOURCE.c.id)).all())
    return [ids[u] for u in urls]


def urls(host: str, count: int) -> list[str]:
    return [f"https://{host}/feed{n}.xml" for n in range(count)]


def leases_of(engine: Engine) -> dict[int, tuple[str | None, datetime | None]]:
    with engine.connect() as conn:
        rows = conn.execute(select(SOURCE.c.id, SOURCE.c.lease_owner, SOURCE.c.lease_expires))
        return {r.id: (r.lease_owner, r.lease_expires) for r in rows}


def polled(engine: Engine, source_id: int, when: datetime, next_poll: datetime) -> None:
    """Record a poll of ``source_id`` as the poller does."""
    update_ = SourceUpdate(
        last_polled_at=when,
        last_status="new",
        last_http_status=200,
        next_poll_at=next_poll,
        consecutive_errors=0,
        last_error=None,
        error_category=None,
    )
    with engine.begin() as conn:
        record_poll(conn, source_id, update_)


def claim(
    engine: Engine,
    owner: str,
    seconds: float,
    limit: int = 10,
    *,
    per_host: int = MANY,
    since: datetime | None = None,
    skip: list[int] | None = None,
) -> leases.Claim:
    return leases.claim(
        engine, owner, at(seconds), TTL, limit=limit, per_host=per_host, since=since, skip=skip or ()
    )


# --------------------------------------------------------------------------- claim and release


def test_a_claim_leases_due_sources_oldest_first_up_to_its_limit(engine: Engine) -> None:
    ids = add(engine, urls("a.example", 5))
    polled(engine, ids[0], T0, next_poll=at(-30))  # due for 30 s: the oldest due
    polled(engine, ids[1], T0, next_poll=at(3600))  # not due
    first = claim(engine, "p1", 0, limit=3)
    assert [s.id for s in first.sources] == [ids[2], ids[3], ids[4]]  # never polled comes first
    assert first.left == 1
    assert {i for i, (owner, _) in leases_of(engine).items() if owner == "p1"} == {ids[2], ids[3], ids[4]}
    assert leases_of(engine)[ids[2]] == ("p1", at(TTL))
    second = claim(engine, "p2", 1)
    assert [s.id for s in second.sources] == [ids[0]] and second.left == 0
    assert claim(engine, "p3", 2).sources == []


def test_a_live_lease_is_skipped_until_it_expires(engine: Engine) -> None:
    ids = add(engine, urls("a.example", 2))
    assert [s.id for s in claim(engine, "dead", 0).sources] == ids
    assert claim(engine, "p2", TTL).sources == []  # at its expiry instant a lease still holds
    taken = claim(engine, "p2", TTL + 1)
    assert [s.id for s in taken.sources] == ids
    assert leases_of(engine)[ids[0]] == ("p2", at(2 * TTL + 1))


def test_renewal_keeps_a_lease_past_its_first_expiry(engine: Engine) -> None:
    ids = add(engine, urls("a.example", 2))
    claim(engine, "p1", 0)
    assert leases.renew(engine, "p1", TTL, at(50)) == 2
    assert claim(engine, "p2", TTL + 1).sources == []
    assert leases_of(engine)[ids[1]] == ("p1", at(50 + TTL))
    assert leases.renew(engine, "nobody", TTL, at(50)) == 0


def test_recording_a_poll_releases_its_lease_and_release_frees_the_rest(engine: Engine) -> None:
    ids = add(engine, urls("a.example", 3))
    claim(engine, "p1", 0)
    polled(engine, ids[0], at(1), next_poll=at(3600))
    assert leases_of(engine)[ids[0]] == (None, None)
    assert leases.release(engine, "p2") == 0
    assert leases.release(engine, "p1") == 2
    assert set(leases_of(engine).values()) == {(None, None)}
    # Released before their poll was recorded: due again; the recorded one is not.
    assert [s.id for s in claim(engine, "p2", 2).sources] == ids[1:]


def test_clear_voids_every_lease_and_the_sweep(engine: Engine) -> None:
    add(engine, urls("a.example", 2))
    since = leases.join_sweep(engine, "p1", TTL, T0)
    claim(engine, "p1", 0, since=since)
    leases.clear(engine)
    assert set(leases_of(engine).values()) == {(None, None)}
    assert leases.join_sweep(engine, "p2", TTL, at(5)) == at(5)  # a new sweep, not the old one


def test_next_due_time_waits_for_a_live_lease(engine: Engine) -> None:
    ids = add(engine, urls("a.example", 1))
    assert next_due_time_at(engine, 0) == T0
    claim(engine, "p1", 0)
    assert next_due_time_at(engine, 10) == at(TTL)  # due, but leased until then
    polled(engine, ids[0], at(10), next_poll=at(600))
    assert next_due_time_at(engine, 10) == at(600)


def next_due_time_at(engine: Engine, seconds: float) -> datetime | None:
    with engine.connect() as conn:
        return next_due_time(conn, at(seconds))


# --------------------------------------------------------------------------- the per-host limit


def test_live_leases_of_every_poller_count_against_the_per_host_limit(engine: Engine) -> None:
    ids = add(engine, [*urls("a.example", 4), "https://B.Example:8443/x/feed.xml", *urls("b.example", 3)])
    a, b = ids[:4], ids[4:]
    first = claim(engine, "p1", 0, limit=1, per_host=2)
    assert [s.id for s in first.sources] == [a[0]]
    second = claim(engine, "p2", 1, limit=10, per_host=2)
    # a.example carries p1's lease: one more; b.example (any port, any case) two.
    assert [s.id for s in second.sources] == [a[1], b[0], b[1]]
    assert second.left == 4  # a2, a3, b2, b3
    assert claim(engine, "p3", 2, per_host=2).sources == []
    polled(engine, a[0], at(3), next_poll=at(3600))  # p1's poll recorded: a.example has room for one
    assert [s.id for s in claim(engine, "p3", 4, per_host=2).sources] == [a[2]]
    # p2's leases expired: they no longer count, and their sources are due again; p3's a2 still counts.
    late = claim(engine, "p3", 2 + TTL, per_host=2)
    assert [s.id for s in late.sources] == [a[1], b[0], b[1]]


def test_host_of() -> None:
    assert leases.host_of("https://B.Hatena.ne.jp:443/x?mode=rss") == "b.hatena.ne.jp"
    assert leases.host_of("http://user@127.0.0.2:8080/f") == "127.0.0.2"
    assert leases.host_of("http://[::1]:8080/f") == "::1"


# --------------------------------------------------------------------------- forced sweeps


def test_forced_pollers_share_one_sweep(engine: Engine) -> None:
    ids = add(engine, urls("a.example", 4))
    for i in ids:
        polled(engine, i, at(-100), next_poll=at(3600))  # none due by schedule
    assert claim(engine, "p1", 0).sources == []
    since = leases.join_sweep(engine, "p1", TTL, at(0))
    assert since == at(0)
    first = claim(engine, "p1", 0, limit=2, since=since)
    assert [s.id for s in first.sources] == ids[:2]
    polled(engine, ids[0], at(1), next_poll=at(3600))
    # A poller forced later joins the sweep under way: what p1 polled since it began stays done.
    assert leases.join_sweep(engine, "p2", TTL, at(2)) == since
    second = claim(engine, "p2", 2, since=since)
    assert [s.id for s in second.sources] == ids[2:]
    assert not leases.end_sweep(engine, since)  # ids[1..3] not polled yet
    for i in ids[1:]:
        polled(engine, i, at(3), next_poll=at(3600))
    assert claim(engine, "p2", 4, since=since).sources == []
    assert leases.end_sweep(engine, since)
    # Forced again once the sweep ended: every source once more.
    again = leases.join_sweep(engine, "p3", TTL, at(5))
    assert again == at(5)
    assert [s.id for s in claim(engine, "p3", 5, since=again).sources] == ids


def test_a_new_sweep_takes_every_source_when_the_clock_has_not_moved(engine: Engine) -> None:
    ids = add(engine, urls("a.example", 2))
    since = leases.join_sweep(engine, "p1", TTL, T0)
    for i in ids:
        polled(engine, i, T0, next_poll=at(3600))
    assert leases.end_sweep(engine, since)
    again = leases.join_sweep(engine, "p1", TTL, T0)  # the same instant: polled "before" it, still
    assert again > T0
    taken = claim(engine, "p1", 0, since=again, skip=[ids[1]])
    assert [s.id for s in taken.sources] == [ids[0]]  # skip: what this poller already polled
    assert taken.left == 0


def test_a_sweep_nobody_renews_runs_out(engine: Engine) -> None:
    add(engine, urls("a.example", 1))
    since = leases.join_sweep(engine, "p1", TTL, T0)
    assert leases.renew_sweep(engine, since, TTL, at(50))
    assert leases.join_sweep(engine, "p2", TTL, at(50 + TTL)) == since
    assert leases.join_sweep(engine, "p3", TTL, at(50 + 3 * TTL)) == at(50 + 3 * TTL)
    assert not leases.renew_sweep(engine, since, TTL, at(50 + 3 * TTL))  # replaced


# --------------------------------------------------------------------------- PostgreSQL: concurrent claims


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    eng = make_engine(pg_url)
    yield eng
    eng.dispose()


@pytest.mark.postgres
def test_a_claim_skips_a_row_another_transaction_holds(pg_engine: Engine) -> None:
    ids = add(pg_engine, urls("a.example", 3))
    with pg_engine.begin() as other:
        other.execute(update(SOURCE).where(SOURCE.c.id == ids[0]).values(title="being edited"))
        taken = claim(pg_engine, "p1", 0)  # does not wait for the other transaction
        assert [s.id for s in taken.sources] == ids[1:]
        assert taken.left == 1  # the held row is still due: the poller looks again
    assert [s.id for s in claim(pg_engine, "p2", 1).sources] == ids[:1]


@pytest.mark.postgres
def test_concurrent_claims_never_lease_a_source_twice(pg_engine: Engine) -> None:
    hosts = [f"h{n}.example" for n in range(5)]
    ids = add(pg_engine, [u for host in hosts for u in urls(host, 8)])
    per_host = 3
    claimed: dict[str, list[int]] = {}
    start = threading.Barrier(8)

    def poller(owner: str) -> None:
        start.wait()
        claimed[owner] = [s.id for s in claim(pg_engine, owner, 0, limit=4, per_host=per_host).sources]

    threads = [threading.Thread(target=poller, args=(f"p{n}",)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    every = [i for got in claimed.values() for i in got]
    assert len(every) == len(set(every))  # no source leased to two pollers
    assert len(every) == len(hosts) * per_host  # every host at its limit, none above it
    owners = {i: owner for i, (owner, _) in leases_of(pg_engine).items() if owner}
    assert owners == {i: o for o, got in claimed.items() for i in got}
    assert set(every) <= set(ids)
