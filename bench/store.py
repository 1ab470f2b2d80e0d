"""write_items throughput (the Core bulk-upsert path) on SQLite and PostgreSQL.

Items are built directly as ``Incoming`` values (no HTTP, no parsing) and
written the way the poller writes them: one ``write_items`` call per source
document, each in its own transaction, or ``--per-transaction N`` documents per
transaction (the poller's batched writes, ``poller.writes``). Phases:

* new        every item is new (insert items, sightings, tags, links);
* unchanged  the same documents again (read back, compare, write nothing);
* updated    every item's title and bookmark count changed (UPDATE items);
* merged     a second, tag-kind source reports the same items with one extra
             tag (new sightings, tags re-derived, versions bumped).

    python bench/store.py                       # 20,000 items, batches of 20, both databases
    python bench/store.py --items 100000 --batch 50 --db postgres
    python bench/store.py --per-transaction 1,20       # one document per commit, then 20
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from _common import (
    WORDS,
    add_db_arguments,
    add_idle_argument,
    banner,
    load_note,
    print_table,
    scratch_database,
    selected_kinds,
    wait_idle,
)
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from aggregator.db import make_engine
from aggregator.identity import hash_text
from aggregator.ingest import Incoming, SourceInfo
from aggregator.models import Item, ItemTag, Sighting, Source, table_of
from aggregator.store.common import insert_for
from aggregator.store.items import WriteCounts, write_items

DEADLINE = 600.0  # seconds per phase, whatever the options


def tag_pool(count: int) -> list[str]:
    return [f"{WORDS[i % len(WORDS)]}-{i}" if i >= len(WORDS) else WORDS[i] for i in range(count)]


def make_items(count: int, tags: Sequence[str], rng: random.Random) -> list[Incoming]:
    """``count`` distinct items with 3-5 tags each (skewed towards the first tags of the pool)."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    weights = [1.0 / (rank + 1) for rank in range(len(tags))]
    items = []
    for n in range(count):
        site = f"site{n % 997}.example.com"
        link = f"https://{site}/posts/{n}"
        chosen = dict.fromkeys(rng.choices(tags, weights=weights, k=rng.randint(3, 5)))
        published = base + timedelta(minutes=n)
        words = " ".join(rng.choice(WORDS) for _ in range(40))
        items.append(
            Incoming(
                key=link,
                key_hash=hash_text(link),
                link=link,
                guid=link,
                title=f"Post {n}: {' '.join(rng.choice(WORDS) for _ in range(6))}",
                summary=f"<p>{words}</p>",
                content=None,
                author=f"author{n % 50}",
                published=published,
                updated=published,
                site=site,
                bookmark_count=rng.randint(1, 500),  # 0 would trip the bookmark-count bug (docs)
                image=None,
                tags=tuple((t, t) for t in chosen),
            )
        )
    return items


def batches(items: Sequence[Incoming], size: int) -> list[Sequence[Incoming]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def add_sources(engine: Engine, count: int, kind: str, first_id: int) -> list[SourceInfo]:
    source = table_of(Source)
    rows = [
        {
            "id": first_id + i,
            "url": f"http://127.0.0.1:9/{kind}/{first_id + i}.xml",
            "kind": kind,
            "title": f"{kind} {first_id + i}",
            "tags": [],
            "origin": "config",
            "enabled": True,
            "gone": False,
            "consecutive_errors": 0,
            "redirect_count": 0,
        }
        for i in range(count)
    ]
    with engine.begin() as conn:
        conn.execute(insert_for(conn, source), rows)
    return [SourceInfo(first_id + i, kind) for i in range(count)]


def run_phase(
    engine: Engine,
    docs: Sequence[Sequence[Incoming]],
    sources: Sequence[SourceInfo],
    now: datetime,
    per_transaction: int = 1,
) -> tuple[float, WriteCounts]:
    new = updated = unchanged = 0
    started = time.perf_counter()
    for first in range(0, len(docs), per_transaction):
        if time.perf_counter() - started > DEADLINE:
            print(
                f"   phase stopped at its {DEADLINE:.0f} s deadline after {first} documents", file=sys.stderr
            )
            break
        with engine.begin() as conn:
            for index in range(first, min(first + per_transaction, len(docs))):
                counts = write_items(conn, sources[index % len(sources)], docs[index], now)
                new += counts.new
                updated += counts.updated
                unchanged += counts.unchanged
    return time.perf_counter() - started, WriteCounts(new, updated, unchanged)


def row_counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        items, sightings, links = (
            int(conn.execute(select(func.count()).select_from(table_of(m))).scalar() or 0)
            for m in (Item, Sighting, ItemTag)
        )
    return items, sightings, links


def bench_one(kind: str, url: str, args: argparse.Namespace, per_transaction: int) -> list[list[object]]:
    rng = random.Random(args.seed)
    engine = make_engine(url)
    try:
        tags = tag_pool(args.tags)
        items = make_items(args.items, tags, rng)
        docs = batches(items, args.batch)
        # Each source owns a contiguous run of documents, as a feed owns its own items.
        per_source = max(1, len(docs) // args.sources)
        owners = add_sources(engine, args.sources, "feed", 1)
        doc_owner = [owners[min(i // per_source, len(owners) - 1)] for i in range(len(docs))]
        mergers = add_sources(engine, args.sources, "tag", 1 + args.sources)
        rows: list[list[object]] = []
        now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

        def record(phase: str, elapsed: float, counts: WriteCounts, written: int) -> None:
            rows.append(
                [
                    kind,
                    per_transaction,
                    phase,
                    written,
                    counts.new,
                    counts.updated,
                    counts.unchanged,
                    elapsed,
                    written / elapsed if elapsed else 0.0,
                    elapsed / len(docs) * 1000,
                ]
            )
            print(f"   {kind} x{per_transaction} {phase}: {written / elapsed:,.0f} items/s", flush=True)

        elapsed, counts = run_phase(engine, docs, doc_owner, now, per_transaction)
        record("new", elapsed, counts, len(items))
        elapsed, counts = run_phase(engine, docs, doc_owner, now + timedelta(minutes=30), per_transaction)
        record("unchanged", elapsed, counts, len(items))
        changed = [
            replace(i, title=i.title + " (updated)", bookmark_count=(i.bookmark_count or 0) + 1)
            for i in items
        ]
        later = now + timedelta(hours=1)
        elapsed, counts = run_phase(engine, batches(changed, args.batch), doc_owner, later, per_transaction)
        record("updated", elapsed, counts, len(items))
        extra = [replace(i, tags=(*i.tags, ("merged", "merged"))) for i in changed]
        merger_of = [mergers[min(i // per_source, len(mergers) - 1)] for i in range(len(docs))]
        later = now + timedelta(hours=2)
        elapsed, counts = run_phase(engine, batches(extra, args.batch), merger_of, later, per_transaction)
        record("merged", elapsed, counts, len(items))
        items_n, sightings_n, links_n = row_counts(engine)
        print(
            f"   {kind}: {items_n:,} items, {sightings_n:,} sightings, {links_n:,} item_tag rows", flush=True
        )
        return rows
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000, help="distinct items (default 20000)")
    parser.add_argument("--batch", type=int, default=20, help="items per write_items call (default 20)")
    parser.add_argument("--sources", type=int, default=100, help="sources the documents belong to")
    parser.add_argument("--tags", type=int, default=200, help="size of the tag pool")
    parser.add_argument(
        "--per-transaction",
        default="1",
        help="comma-separated documents per transaction, each run on a fresh database (default 1)",
    )
    parser.add_argument("--seed", type=int, default=1)
    add_db_arguments(parser)
    add_idle_argument(parser)
    args = parser.parse_args(argv)
    if args.items < 1 or args.batch < 1 or args.sources < 1 or args.tags < 5:
        parser.error("--items, --batch and --sources must be positive, --tags at least 5")
    kinds = selected_kinds(args.db)
    wait_idle(args.wait_idle)
    banner(f"write_items: {args.items:,} items in documents of {args.batch}", kinds, args.pg_url)
    sizes = [int(n) for n in args.per_transaction.split(",") if n.strip()]
    if not sizes or min(sizes) < 1:
        parser.error("--per-transaction: positive numbers, e.g. 1,20")
    rows: list[list[object]] = []
    for kind in kinds:
        for size in sizes:
            with scratch_database(kind, args.pg_url, pg_options=args.pg_options) as url:
                rows += bench_one(kind, url, args, size)
    print()
    header = ["db", "docs/tx", "phase", "items", "new", "updated", "unchanged", "seconds", "items/s"]
    header.append("ms/doc")
    print_table(header, rows)
    print(load_note(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
