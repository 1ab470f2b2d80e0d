"""The poller and the bookmark history, on both backends: each poll of a real feed records the
counts that changed, and every poll run (``run_once``, each pass of ``run_loop``) ends with a
compaction step."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from feedserver import FeedServer
from sqlalchemy import select
from sqlalchemy.engine import Engine
from test_poller import RDF, Entry, hatena_rdf, make_config
from test_store_ordering import POLLS, build, poll_time

from aggregator.models import BookmarkPoint, table_of
from aggregator.poller import Poller
from aggregator.store.history import record_points
from aggregator.store.sources import SOURCE

POINT = table_of(BookmarkPoint)


def stored_points(engine: Engine) -> set[tuple[int, int, datetime, int]]:
    with engine.connect() as conn:
        return {(r.item_id, r.source_id, r.at, r.count) for r in conn.execute(select(POINT))}


def test_each_poll_records_the_counts_that_changed(engine: Engine, srv: FeedServer) -> None:
    sc = build(engine, srv)
    with engine.connect() as conn:
        source_ids = {url: int(i) for i, url in conn.execute(select(SOURCE.c.id, SOURCE.c.url))}
    expected = set()
    last: dict[tuple[str, str], int] = {}
    for hours, served in POLLS:
        for path, counts in served.items():
            for name, count in counts.items():
                if last.get((path, name)) != count:
                    expected.add((sc.ids[name], source_ids[srv.url(path)], poll_time(hours), count))
                last[(path, name)] = count
    assert stored_points(engine) == expected
    assert len(expected) == 11  # 4 new, 1 moved, 2 moved + 1 new (+1 on the tag feed), 2 moved


@pytest.mark.parametrize("how", ["run_once", "run_loop"])
def test_a_poll_run_ends_by_compacting_the_history(engine: Engine, srv: FeedServer, how: str) -> None:
    srv.route("/hot.rdf", hatena_rdf("hot", [Entry("https://example.org/p", "p", count=7)]), content_type=RDF)
    config = make_config([{"url": srv.url("/hot.rdf"), "kind": "tag"}])
    now = datetime(2024, 3, 10, 12, 30, tzinfo=UTC)
    three_days_ago = datetime(2024, 3, 7, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:  # four points in one hour, three days old
        for minute, count in ((5, 1), (20, 2), (40, 3), (55, 4)):
            record_points(conn, [(1, 1, count)], three_days_ago + timedelta(minutes=minute))

    async def run() -> None:
        if how == "run_once":
            await Poller(engine, config, clock=lambda: now).run_once(force=True)
            return
        stop = asyncio.Event()
        looping = Poller(engine, config, clock=lambda: now, on_outcome=lambda _o: stop.set())
        await asyncio.wait_for(looping.run_loop(stop, max_sleep=30), timeout=10)

    asyncio.run(run())
    old = {p for p in stored_points(engine) if p[2] < now - timedelta(days=1)}
    assert old == {(1, 1, three_days_ago + timedelta(minutes=55), 4)}  # the hour's last point
    assert {(p[2], p[3]) for p in stored_points(engine) - old} == {(now, 7)}  # and the poll's own
