"""Batched writes on SQLite and PostgreSQL: sources written together, each wholly or not at all.

The failures are real database failures: a NOT NULL violation raised by the database for
one source's item, and (PostgreSQL) the server closing the connection mid-batch.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from itertools import groupby
from typing import Any, cast

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from test_store import NOW, entry, feed_of

from aggregator.errors import StorageError
from aggregator.ingest import Incoming, SourceInfo, prepare_entries
from aggregator.models import Item, Sighting, table_of
from aggregator.poller.report import SourceOutcome
from aggregator.poller.writes import Write, WriteBatcher, apply_batch
from aggregator.store.items import write_items

ITEM = table_of(Item)
SIGHTING = table_of(Sighting)


def incoming(source: SourceInfo, name: str) -> list[Incoming]:
    entries = [entry(f"https://{name}.example/{n}", f"{name} {n}", NOW) for n in range(3)]
    return prepare_entries(feed_of(entries), source)


def writing(source: SourceInfo, entries: list[Incoming]) -> Callable[[Connection], int]:
    def run(conn: Connection) -> int:
        return write_items(conn, source, entries, NOW).new

    return run


def titles_by_source(engine: Engine) -> dict[int, set[str]]:
    with engine.connect() as conn:
        query = select(SIGHTING.c.source_id, ITEM.c.title).join(ITEM, ITEM.c.id == SIGHTING.c.item_id)
        rows = conn.execute(query)
        found: dict[int, set[str]] = {}
        for source_id, title in rows:
            found.setdefault(int(source_id), set()).add(title)
    return found


def test_a_source_that_violates_a_constraint_leaves_the_others_of_its_batch_written(engine: Engine) -> None:
    sources = [SourceInfo(n, "feed") for n in (1, 2, 3)]
    batches = [incoming(s, name) for s, name in zip(sources, ("a", "b", "c"), strict=True)]
    # The second source's last entry has no title: the database refuses the item (NOT NULL),
    # after that source's first two items were inserted in the shared transaction.
    batches[1][-1] = replace(batches[1][-1], title=cast(Any, None))

    results = apply_batch(engine, [writing(s, b) for s, b in zip(sources, batches, strict=True)])

    assert results[0] == 3 and results[2] == 3
    assert isinstance(results[1], StorageError)
    assert titles_by_source(engine) == {1: {"a 0", "a 1", "a 2"}, 3: {"c 0", "c 1", "c 2"}}


@pytest.mark.postgres
def test_a_connection_closed_mid_batch_loses_no_other_source(pg_url: str) -> None:
    from aggregator.db import make_engine

    engine = make_engine(pg_url)
    try:
        sources = [SourceInfo(n, "feed") for n in (1, 2)]
        first, last = (writing(s, incoming(s, name)) for s, name in zip(sources, ("a", "c"), strict=True))

        def terminate(conn: Connection) -> int:
            conn.exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")
            return 0

        results = apply_batch(engine, [first, terminate, last])

        assert results[0] == 3 and results[2] == 3
        assert isinstance(results[1], StorageError)
        assert titles_by_source(engine) == {1: {"a 0", "a 1", "a 2"}, 2: {"c 0", "c 1", "c 2"}}
    finally:
        engine.dispose()


def outcome(source_id: int) -> Callable[[object], SourceOutcome]:
    def done(result: object) -> SourceOutcome:
        if isinstance(result, Exception):
            return SourceOutcome(source_id, "u", "l", "error", message=str(result))
        return SourceOutcome(source_id, "u", "l", "new", new=cast(int, result))

    return done


def test_writes_waiting_for_the_writer_share_one_transaction(engine: Engine) -> None:
    sources = [SourceInfo(n, "feed") for n in range(1, 6)]
    seen: list[Connection] = []

    def recording(source: SourceInfo) -> Callable[[Connection], int]:
        write = writing(source, incoming(source, f"s{source.id}"))

        def run(conn: Connection) -> int:
            seen.append(conn)
            return write(conn)

        return run

    async def main() -> list[SourceOutcome]:
        batcher = WriteBatcher()
        busy, release = threading.Event(), threading.Event()
        with ThreadPoolExecutor(max_workers=1) as writer:

            def hold() -> None:
                busy.set()
                release.wait(10)

            writer.submit(hold)
            busy.wait(10)
            tasks = [
                asyncio.create_task(batcher.submit(engine, writer, Write(recording(s), outcome(s.id))))
                for s in sources
            ]
            await asyncio.sleep(0.05)  # every write is waiting for the writer
            release.set()
            return await asyncio.gather(*tasks)

    outcomes = asyncio.run(main())

    assert [(o.source_id, o.status, o.new) for o in outcomes] == [(s.id, "new", 3) for s in sources]
    assert len(seen) == 5 and all(conn is seen[0] for conn in seen)
    assert set(titles_by_source(engine)) == {1, 2, 3, 4, 5}


def test_a_batch_holds_at_most_max_batch_sources(engine: Engine) -> None:
    sources = [SourceInfo(n, "feed") for n in range(1, 6)]
    connections: list[Connection] = []  # kept alive: each transaction's connection is distinct

    def recording(source: SourceInfo) -> Callable[[Connection], int]:
        def run(conn: Connection) -> int:
            connections.append(conn)
            return 0

        return run

    async def main() -> list[SourceOutcome]:
        batcher = WriteBatcher(max_batch=2)
        release = threading.Event()
        with ThreadPoolExecutor(max_workers=1) as writer:
            writer.submit(release.wait, 10)
            tasks = [
                asyncio.create_task(batcher.submit(engine, writer, Write(recording(s), outcome(s.id))))
                for s in sources
            ]
            await asyncio.sleep(0.05)
            release.set()
            return await asyncio.gather(*tasks)

    outcomes = asyncio.run(main())

    assert [o.source_id for o in outcomes] == [1, 2, 3, 4, 5]
    sizes = [len(list(group)) for _, group in groupby(connections, key=id)]
    assert sizes == [2, 2, 1]
