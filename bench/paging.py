"""A paged walk: following ``next`` from the first page of a feed to its end.

1. ``--items`` generated items (``bench/slices.py``'s generator) are loaded into a
   scratch database.
2. ``aggregator serve`` runs in a subprocess (as in ``bench/uncached.py``); one
   client asks for ``/feeds/all.{format}?limit=N`` and follows each page's
   ``next`` link to the last page, for each ``--limits`` N. Every page is a URL of
   its own, so every request misses the slice cache: the keyset query, the
   render and the HTTP round trip.
3. It prints the walk's total time, its requests, the time per page (the first,
   the median, the last) and the items seen, and compares it with the ceiling:
   one document of every item at once, read and rendered in this process (over
   HTTP a request holds at most 500 items); the first page is the unpaged
   request of ``limit`` items.

    python bench/paging.py                       # 10,000 items, limits 50 and 500, SQLite
    python bench/paging.py --db sqlite,postgres --items 50000 --format json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from _common import (
    add_db_arguments,
    add_idle_argument,
    banner,
    load_note,
    median,
    print_table,
    scratch_database,
    selected_kinds,
    wait_idle,
)
from lxml import etree
from slices import Shape, analyze, load
from uncached import serve

from aggregator.db import make_engine
from aggregator.filters import Filter
from aggregator.render import render_feed
from aggregator.store.slices import select_slice
from aggregator.views import FeedMeta

ATOM_NS = "http://www.w3.org/2005/Atom"
XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def fetch(url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body: bytes = response.read()
    return time.perf_counter() - started, body


def read_page(fmt: str, body: bytes) -> tuple[int, str | None]:
    """How many items a page holds, and its next link."""
    if fmt == "json":
        doc = json.loads(body)
        return len(doc["items"]), doc.get("next_url")
    root = etree.fromstring(body, XML)
    if fmt == "atom":
        items = root.findall(f"{{{ATOM_NS}}}entry")
        links = root.findall(f"{{{ATOM_NS}}}link")
    else:
        items = root.findall("channel/item")
        links = root.findall(f"channel/{{{ATOM_NS}}}link")
    found = [link.get("href") for link in links if link.get("rel") == "next"]
    return len(items), found[0] if found else None


def walk(base: str, fmt: str, limit: int) -> tuple[list[float], int]:
    """Seconds per page and the items seen, from the first page to the last."""
    times: list[float] = []
    items = 0
    url: str | None = f"{base}/feeds/all.{fmt}?limit={limit}"
    while url is not None:
        seconds, body = fetch(url)
        count, url = read_page(fmt, body)
        times.append(seconds)
        items += count
    return times, items


def ceiling(url: str, fmt: str, items: int) -> float:
    """Seconds to read and render every item as one document, in this process."""
    engine = make_engine(url)
    site = "http://127.0.0.1"
    try:
        seconds = 0.0
        for limit in (50, items):  # the first, small, opens the connection and imports what renders
            started = time.perf_counter()
            with engine.connect() as conn:
                found = select_slice(conn, Filter(limit=limit))
            meta = FeedMeta("all", "", f"{site}/feeds/all", f"{site}/", "urn:bench", found[0].updated)
            render_feed(fmt, meta, found)
            seconds = time.perf_counter() - started
        return seconds
    finally:
        engine.dispose()


def bench_one(kind: str, url: str, args: argparse.Namespace, work: Path) -> list[list[str]]:
    engine = make_engine(url)
    try:
        load(engine, Shape(args.items, 200, 200, 20, args.seed))
        analyze(engine)
    finally:
        engine.dispose()
    whole = ceiling(url, args.format, args.items)
    server = serve(url, work)
    rows = []
    try:
        base = server.url("")
        fetch(f"{base}/feeds/all.{args.format}?limit=1")  # connections opened, lazy imports done
        for limit in args.limits:
            times, items = walk(base, args.format, limit)
            total = sum(times)
            rows.append(
                [
                    kind,
                    f"{limit}",
                    f"{len(times)}",
                    f"{items}",
                    f"{total:.2f}",
                    f"{times[0] * 1000:.1f}",
                    f"{median(times) * 1000:.1f}",
                    f"{times[-1] * 1000:.1f}",
                    f"{whole:.2f}",
                    f"{total / whole:.1f}x",
                ]
            )
            if items != args.items:
                print(f"   {kind} limit {limit}: walked {items} items of {args.items}", file=sys.stderr)
    finally:
        server.stop()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="items to generate (default 10000)")
    parser.add_argument(
        "--limits", default="50,500", help="page sizes to walk with, comma-separated (default 50,500)"
    )
    parser.add_argument("--format", choices=("atom", "rss", "json"), default="atom")
    parser.add_argument("--seed", type=int, default=1)
    add_db_arguments(parser, default="sqlite")
    add_idle_argument(parser)
    args = parser.parse_args(argv)
    try:
        args.limits = [int(n) for n in args.limits.split(",")]
    except ValueError:
        parser.error("--limits: whole numbers, comma-separated")
    if not 100 <= args.items <= 1_000_000 or not all(1 <= n <= 500 for n in args.limits):
        parser.error("need 100 <= --items <= 1000000 and every limit from 1 to 500")
    kinds = selected_kinds(args.db)
    wait_idle(args.wait_idle)
    banner(
        f"paged walk: /feeds/all.{args.format} over {args.items:,} items, next to the end", kinds, args.pg_url
    )
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="aggbench-paging-") as tmp:
        for kind in kinds:
            with scratch_database(kind, args.pg_url, pg_options=args.pg_options) as url:
                rows += bench_one(kind, url, args, Path(tmp))
    print()
    headers = ["db", "limit", "requests", "items", "walk s", "first ms", "median ms", "last ms"]
    print_table([*headers, "ceiling s", "walk/ceiling"], rows)
    print(
        "first: the unpaged first page, one request of `limit` items; ceiling: every item read and"
        " rendered as one document in this process (a request over HTTP holds at most 500 items)."
    )
    print(load_note(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
