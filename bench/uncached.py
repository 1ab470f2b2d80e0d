"""Uncached whole requests: 88 different slices of a large database, each asked for once.

1. ``--items`` generated items (``bench/slices.py``'s generator: Zipf tags, sites
   and sources; a twentieth of the titles get Japanese words) are loaded into a
   scratch database.
2. ``aggregator serve`` runs in a subprocess; one client asks, one request at a
   time, for 88 different slices (single tags from the most to the least used,
   all-of and any-of pairs, ``not_tag``, sites, bookmark thresholds, text in
   Latin and Japanese script, date windows and combinations), each in the three
   formats, so every request misses the slice cache: a whole request is the
   slice query, the render and the HTTP round trip.
3. The medians and percentiles of those request times are printed next to the
   targets (p50 <= 15 ms, p99 <= 50 ms), with the slowest slices named.

    python bench/uncached.py                      # 50,000 items, SQLite and PostgreSQL
    python bench/uncached.py --db sqlite --items 200000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from _common import (
    add_db_arguments,
    add_idle_argument,
    banner,
    load_note,
    percentile,
    print_table,
    scratch_database,
    selected_kinds,
    wait_idle,
)
from hotfeed import Server
from slices import Shape, analyze, load, site_name, tag_name
from sqlalchemy import text

from aggregator.db import make_engine

JAPANESE = ("データ", "分析", "クラウド", "機械学習")
FORMATS = ("atom", "rss", "json")


def slice_paths(tags: int, sites: int) -> list[str]:
    """88 slices: from the busiest tag to the rarest, pairs, exclusions, sites, thresholds, text."""
    t = [tag_name(r) for r in range(tags)]
    paths = [f"/feeds/tag/{quote(t[r])}" for r in (0, 1, 2, 3, 5, 8, 13, 21, 34, 55)]
    paths += [f"/feeds/tag/{quote(t[r])}" for r in (tags // 4, tags // 2, tags - 2, tags - 1)]
    paths += [f"/feeds/all?tag={quote(t[a])}&tag={quote(t[b])}" for a, b in ((0, 1), (0, 5), (2, 9), (1, 30))]
    paths += [
        f"/feeds/all?any_tag={quote(t[a])}&any_tag={quote(t[b])}" for a, b in ((0, 1), (3, 40), (90, 91))
    ]
    paths += [f"/feeds/tag/{quote(t[a])}?not_tag={quote(t[b])}" for a, b in ((0, 1), (2, 0), (5, 3), (1, 2))]
    paths += [f"/feeds/site/{site_name(r).removeprefix('blog.')}" for r in (0, 1, 2, 10, 100, sites // 2)]
    paths += [f"/feeds/all?min_bookmarks={n}" for n in (1, 5, 20, 100, 1000, 5000)]
    paths += [f"/feeds/tag/{quote(t[r])}?min_bookmarks={n}" for r, n in ((0, 10), (3, 100), (20, 5))]
    paths += [f"/feeds/all?q={quote(w)}" for w in ("kubernetes", "latency cache", "garbage", "nomatchword")]
    paths += [f"/feeds/all?q={quote(w)}" for w in JAPANESE]
    paths += [f"/feeds/tag/{quote(t[0])}?q={quote(w)}" for w in ("docker", "データ")]
    paths += [f"/feeds/all?since={d}" for d in ("2025-12-01", "2025-06-01", "2024-01-01")]
    paths += [f"/feeds/tag/{quote(t[r])}?until=2024-06-01" for r in (0, 7)]
    paths += [f"/feeds/all?limit={n}" for n in (10, 100)]
    paths += [f"/feeds/site/{site_name(r).removeprefix('blog.')}?min_bookmarks=2" for r in (0, 3)]
    paths += [f"/feeds/all?tag={quote(t[0])}&not_tag={quote(t[1])}&min_bookmarks=50" for _ in (0,)]
    paths += [f"/feeds/all?any_tag={quote(t[0])}&any_tag={quote(t[1])}&not_tag={quote(t[2])}"]
    paths += ["/feeds/all"]
    while len(paths) < 88:  # more mid-ranked tags, each a different slice
        paths.append(f"/feeds/tag/{quote(t[60 + len(paths)])}?limit=30")
    return paths[:88]


def with_format(path: str, fmt: str) -> str:
    base, _, query = path.partition("?")
    return f"{base}.{fmt}" + (f"?{query}" if query else "")


def japanese_titles(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for n, word in enumerate(JAPANESE):
                conn.execute(
                    text("UPDATE item SET title = :word || ' ' || title WHERE id % 80 = :n"),
                    {"word": word, "n": n},
                )
    finally:
        engine.dispose()


def serve(url: str, work: Path) -> Server:
    config = work / "feeds.toml"
    config.write_text("[server]\nversion_interval = 1\n", "utf-8")
    command = [sys.executable, "-m", "aggregator.cli", "--config", str(config), "--db", url, "serve"]
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))  # every CPU this process may use
    return Server([*command, "--port", "{port}"], cpus, work / "server.log")


def request(port: int, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as resp:
            resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return (time.perf_counter() - started) * 1000, status


def bench_one(kind: str, url: str, args: argparse.Namespace, work: Path) -> tuple[list[str], list[list[str]]]:
    engine = make_engine(url)
    try:
        load(engine, Shape(args.items, args.tags, args.sites, args.sources, args.seed))
        if kind == "postgres":
            analyze(engine)
    finally:
        engine.dispose()
    japanese_titles(url)
    server = serve(url, work)
    port = server.port
    timings: list[tuple[float, str]] = []
    errors = 0
    try:
        request(port, "/feeds/all.atom?limit=1")  # the first request opens connections and imports lazily
        for fmt in FORMATS:
            for path in slice_paths(args.tags, args.sites):
                ms, status = request(port, with_format(path, fmt))
                errors += status != 200
                timings.append((ms, with_format(path, fmt)))
    finally:
        server.stop()
    values = [ms for ms, _ in timings]
    row = [
        kind,
        f"{len(values)}",
        f"{errors}",
        f"{percentile(values, 50):.1f}",
        f"{percentile(values, 90):.1f}",
        f"{percentile(values, 99):.1f}",
        f"{max(values):.1f}",
    ]
    slowest = [f"   {kind} {ms:7.1f} ms  {path}" for ms, path in sorted(timings, reverse=True)[:8]]
    return row, [slowest]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000, help="items to generate (default 50000)")
    parser.add_argument("--tags", type=int, default=500)
    parser.add_argument("--sites", type=int, default=5_000)
    parser.add_argument("--sources", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    add_db_arguments(parser)
    add_idle_argument(parser)
    args = parser.parse_args(argv)
    if not 1000 <= args.items <= 5_000_000 or args.tags < 200 or args.sites < 200 or args.sources < 2:
        parser.error("need 1000 <= --items <= 5000000, --tags >= 200, --sites >= 200, --sources >= 2")
    kinds = selected_kinds(args.db)
    wait_idle(args.wait_idle)
    banner(f"uncached requests: 88 slices x 3 formats over {args.items:,} items", kinds, args.pg_url)
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="aggbench-uncached-") as tmp:
        for kind in kinds:
            with scratch_database(kind, args.pg_url, pg_options=args.pg_options) as url:
                row, slow = bench_one(kind, url, args, Path(tmp))
                rows.append(row)
                notes += slow
    print()
    print_table(["db", "requests", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms"], rows)
    print("targets: p50 <= 15 ms, p99 <= 50 ms. Slowest requests:")
    for lines in notes:
        print("\n".join(lines))
    print(load_note(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
