"""End-to-end poll throughput: synthetic RSS feeds on a local aiohttp server, the real Poller.

A subprocess serves ``--feeds`` RSS 2.0 documents (``--items`` entries each,
about 10 KB, 3-5 categories per entry, a fifth of the entries shared between
about three feeds) on 127.0.0.1 with strong ETags. Four passes of
``Poller(engine, config).run_once(force=True)`` are timed:

* cold       every item new: fetch, parse, write;
* 304        the server honours If-None-Match: nothing fetched but the status;
* 200-same   the server ignores If-None-Match and sends the same bytes (body-hash skip);
* changed    every document changed: 2 new entries, 2 dropped, 1 retitled.

The writer thread's busy time is split into parse (feedparser + sanitising),
prepare (identity, tags), write (``write_items``) and the rest (hashing,
recording the poll, commits); with a parser pool (``--parse-workers``, default
one per CPU as in the poller) parse and prepare run in the worker processes and
are not seen here. Just before the cold pass the same documents are parsed by
bare ``feedparser.parse`` one after another in this process: the cold pass is
printed against that ceiling, as a ratio.

    python bench/poll.py                                  # 500 feeds x 20 items, both databases
    python bench/poll.py --feeds 2000 --db postgres --concurrency 32
    python bench/poll.py --per-host 2                     # the default per-host connection cap
    python bench/poll.py --parse-workers 0                # parse in the writer thread (no pool)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import json
import random
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from _common import (
    WORDS,
    Timer,
    add_db_arguments,
    add_idle_argument,
    banner,
    free_port,
    load_note,
    print_table,
    scratch_database,
    selected_kinds,
    wait_idle,
)

from aggregator.config import Config, parse_config
from aggregator.db import make_engine
from aggregator.poller import Poller, RunReport

TAGS = [*WORDS, *(f"{w}-{n}" for n in range(1, 6) for w in WORDS)][:300]
TAG_WEIGHTS = [1.0 / (rank + 1) for rank in range(len(TAGS))]
SHARE = 0.2  # fraction of a feed's entries that are shared articles
SPREAD = 3  # feeds per shared article, on average
NEW_PER_VERSION = 2
BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
PASS_DEADLINE = 600.0


# -------------------------------------------------------------------------------- synthetic feeds


def _article(rng: random.Random, link: str, title: str, when: datetime, tags: Sequence[str]) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(16))
    body = f"<p>{escape(words)}</p>"
    categories = "".join(f"<category>{escape(t)}</category>" for t in tags)
    return (
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f'<guid isPermaLink="true">{escape(link)}</guid>'
        f"<pubDate>{format_datetime(when)}</pubDate>"
        f"<description>{escape(body)}</description>{categories}</item>\n"
    )


def _tags(rng: random.Random) -> list[str]:
    return list(dict.fromkeys(rng.choices(TAGS, weights=TAG_WEIGHTS, k=rng.randint(3, 5))))


def render_feed(feed: int, items: int, version: int, seed: int, feeds: int) -> bytes:
    """Feed ``feed`` at ``version``: its own newest posts, plus shared articles, newest first."""
    shared_n = round(items * SHARE)
    own_n = items - shared_n
    pool = max(1, round(feeds * shared_n / SPREAD))
    newest = own_n + version * NEW_PER_VERSION  # own posts are numbered 0..newest-1
    entries: list[tuple[datetime, str]] = []
    for number in range(newest - 1, newest - 1 - own_n, -1):
        rng = random.Random(f"{seed}/{feed}/{number}")
        when = BASE_TIME + timedelta(hours=number * 7, minutes=feed % 60)
        title = f"{' '.join(rng.choice(WORDS) for _ in range(7)).capitalize()} (part {number})"
        if version and number == newest - 1 - 5:
            title += f" [revised {version}]"
        link = f"https://blog{feed}.example.com/{when:%Y/%m}/post-{number}/"
        entries.append((when, _article(rng, link, title, when, _tags(rng))))
    picker = random.Random(f"{seed}/{feed}/shared")
    for article in picker.sample(range(pool), min(shared_n, pool)):
        rng = random.Random(f"{seed}/shared/{article}")
        when = BASE_TIME + timedelta(minutes=article * 13)
        title = f"{' '.join(rng.choice(WORDS) for _ in range(8)).capitalize()} ({article})"
        link = f"https://news{article % 40}.example.org/articles/{article}"
        tags = _tags(rng)[:2] + _tags(picker)[:2]  # the article's own tags, then this feed's
        entries.append((when, _article(rng, link, title, when, list(dict.fromkeys(tags)))))
    entries.sort(key=lambda e: e[0], reverse=True)
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Blog {feed}</title><link>https://blog{feed}.example.com/</link>"
        f"<description>Synthetic feed {feed}</description><ttl>60</ttl>\n"
    )
    return (head + "".join(e[1] for e in entries) + "</channel></rss>\n").encode()


def serve_feeds(args: argparse.Namespace) -> int:
    """The feed server subprocess: ``/feeds/{n}.xml``, ``/_control``, ``/_stats``."""
    from aiohttp import web

    state: dict[str, Any] = {"mode": "conditional", "version": -1, "bodies": [], "etags": []}
    stats: Counter[str] = Counter()

    def build(version: int) -> None:
        bodies = [render_feed(n, args.items, version, args.seed, args.feeds) for n in range(args.feeds)]
        state["bodies"] = bodies
        state["etags"] = ['"' + hashlib.sha256(b).hexdigest()[:24] + '"' for b in bodies]
        state["version"] = version

    async def feed(request: web.Request) -> web.Response:
        try:
            number = int(request.match_info["n"])
            body, etag = state["bodies"][number], state["etags"][number]
        except (ValueError, IndexError):
            stats["404"] += 1
            return web.Response(status=404)
        headers = {"ETag": etag, "Content-Type": "application/rss+xml; charset=utf-8"}
        if state["mode"] == "conditional" and request.headers.get("If-None-Match") == etag:
            stats["304"] += 1
            return web.Response(status=304, headers=headers)
        stats["200"] += 1
        stats["bytes"] += len(body)
        return web.Response(body=body, headers=headers)

    async def control(request: web.Request) -> web.Response:
        version = int(request.query.get("version", state["version"]))
        if version != state["version"]:
            build(version)
        state["mode"] = request.query.get("mode", state["mode"])
        stats.clear()
        total = sum(len(b) for b in state["bodies"])
        return web.json_response({"version": version, "mode": state["mode"], "bytes": total})

    async def get_stats(request: web.Request) -> web.Response:
        return web.json_response(dict(stats))

    build(0)
    app = web.Application()
    app.router.add_get("/feeds/{n}.xml", feed)
    app.router.add_get("/_control", control)
    app.router.add_get("/_stats", get_stats)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None, handle_signals=True)
    return 0


class FeedServerProcess:
    """The feed server in its own process, so it does not share the poller's core and GIL."""

    def __init__(self, feeds: int, items: int, seed: int) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve-feeds",
                "--port",
                str(self.port),
                "--feeds",
                str(feeds),
                "--items",
                str(items),
                "--seed",
                str(seed),
            ]
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.call("/_stats")
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the feed server did not start") from None
                time.sleep(0.2)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def call(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.url(path), timeout=60) as resp:
            data: dict[str, Any] = json.loads(resp.read())
            return data

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


# -------------------------------------------------------------------------------- the benchmark


def make_config(server: FeedServerProcess, args: argparse.Namespace) -> Config:
    return parse_config(
        {
            "poller": {
                "allow_private_networks": True,
                "concurrency": args.concurrency,
                "per_host": args.per_host,
                "run_deadline": PASS_DEADLINE,
                "parse_workers": args.parse_workers,
            },
            "sources": [{"url": server.url(f"/feeds/{n}.xml"), "kind": "feed"} for n in range(args.feeds)],
        }
    )


def instrument(timer: Timer) -> None:
    """Time the writer thread's steps by wrapping the names the one-source glue calls.

    "writer" is the outermost call of the functions the writer thread runs (nested
    calls are not counted twice). With a parse pool, parse and prepare run in worker
    processes and are not seen here.
    """
    try:  # the glue lives in aggregator.poller.source (SourcePoller.process) ...
        module: Any = importlib.import_module("aggregator.poller.source")
        owner, methods = module.SourcePoller, ["process", "apply", "record_error"]
    except ImportError:  # ... or, in older trees, in aggregator.poller itself (Poller._process)
        module = importlib.import_module("aggregator.poller")
        owner, methods = module.Poller, ["_process"]
    for name, label in (("parse_feed", "parse"), ("prepare_entries", "prepare"), ("write_items", "write")):
        setattr(module, name, timer.wrap(label, getattr(module, name)))
    depth = threading.local()

    def outermost(fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            level = getattr(depth, "n", 0)
            depth.n = level + 1
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                depth.n = level
                if level == 0:
                    timer.add("writer", time.perf_counter() - started)
                    timer.add("writer cpu", time.thread_time() - cpu)

        return timed

    for method in methods:
        if hasattr(owner, method):
            setattr(owner, method, outermost(getattr(owner, method)))
    try:  # batched writes (a parse pool): the writer thread runs WriteBatcher._drain
        writes: Any = importlib.import_module("aggregator.poller.writes")
    except ImportError:
        return
    writes.WriteBatcher._drain = outermost(writes.WriteBatcher._drain)


def feedparser_ceiling(args: argparse.Namespace, version: int) -> tuple[float, int]:
    """Seconds bare ``feedparser.parse`` takes over the same documents, in this one process."""
    import feedparser

    bodies = [render_feed(n, args.items, version, args.seed, args.feeds) for n in range(args.feeds)]
    started = time.perf_counter()
    entries = sum(len(feedparser.parse(body).entries) for body in bodies)
    return time.perf_counter() - started, entries


def run_pass(poller: Poller) -> RunReport:
    return asyncio.run(poller.run_once(force=True))


def bench_one(
    kind: str,
    url: str,
    server: FeedServerProcess,
    args: argparse.Namespace,
    timer: Timer,
    ceilings: list[list[Any]],
) -> list[list[Any]]:
    engine = make_engine(url)
    rows: list[list[Any]] = []
    try:
        poller = Poller(engine, make_config(server, args))
        passes = [
            ("cold", {"version": 0, "mode": "conditional"}),
            ("304", {"version": 0, "mode": "conditional"}),
            ("200-same", {"version": 0, "mode": "always200"}),
            ("changed", {"version": 1, "mode": "conditional"}),
        ]
        for name, control in passes:
            if name not in args.passes:
                continue
            info = server.call(f"/_control?version={control['version']}&mode={control['mode']}")
            ceiling = None
            if name == "cold" and not args.no_ceiling:  # just before the pass, under the same load
                ceiling = feedparser_ceiling(args, version=0)
            timer.reset()
            report = run_pass(poller)
            if ceiling is not None:
                ceilings.append([kind, report.elapsed, ceiling[0], report.elapsed / ceiling[0], ceiling[1]])
            served = server.call("/_stats")
            statuses = Counter(o.status for o in report.outcomes)
            wall = report.elapsed
            feeds = len(report.outcomes)
            entries = feeds * args.items
            writer = timer.seconds.get("writer", 0.0)
            parse = timer.seconds.get("parse", 0.0)
            prepare = timer.seconds.get("prepare", 0.0)
            write = timer.seconds.get("write", 0.0)
            rows.append(
                [
                    kind,
                    name,
                    feeds,
                    sum(o.new for o in report.outcomes),
                    sum(o.updated for o in report.outcomes),
                    ",".join(f"{k}:{v}" for k, v in sorted(statuses.items())),
                    wall,
                    feeds / wall,
                    entries / wall,
                    served.get("bytes", 0) / wall / 1e6,
                    writer / wall * 100,
                    timer.seconds.get("writer cpu", 0.0),
                    parse,
                    prepare,
                    write,
                    max(0.0, writer - parse - prepare - write),
                ]
            )
            errors = statuses.get("error", 0) + statuses.get("gone", 0)
            print(
                f"   {kind} {name}: {report.summary()}"
                f"  [server: {served}, corpus {info['bytes'] / 1e6:.1f} MB]",
                flush=True,
            )
            if errors:
                failed = [o for o in report.outcomes if o.status in ("error", "gone")][:3]
                print(
                    f"   !! {errors} sources failed, e.g. {[(o.url, o.message) for o in failed]}", flush=True
                )
    finally:
        engine.dispose()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500, help="number of feeds (default 500)")
    parser.add_argument("--items", type=int, default=20, help="entries per feed (default 20)")
    parser.add_argument("--concurrency", type=int, default=16, help="poller concurrency (default 16)")
    parser.add_argument(
        "--per-host",
        type=int,
        default=16,
        help="poller per_host connection cap; every feed here is on 127.0.0.1 (default 16)",
    )
    parser.add_argument(
        "--parse-workers",
        type=int,
        default=None,
        help="[poller] parse_workers: parser processes (default: one per CPU; 0 or 1: in the writer thread)",
    )
    parser.add_argument(
        "--no-ceiling", action="store_true", help="skip timing bare feedparser.parse over the cold documents"
    )
    parser.add_argument(
        "--passes",
        default="cold,304,200-same,changed",
        help="comma-separated passes to run, in their fixed order (default: all four)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve-feeds", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    add_db_arguments(parser)
    add_idle_argument(parser)
    args = parser.parse_args(argv)
    args.passes = {p.strip() for p in args.passes.split(",") if p.strip()}
    if args.serve_feeds:
        return serve_feeds(args)
    if args.feeds < 1 or args.items < 5 or args.concurrency < 1 or args.per_host < 1:
        parser.error("--feeds, --concurrency and --per-host must be positive, --items at least 5")
    kinds = selected_kinds(args.db)
    wait_idle(args.wait_idle)
    workers = "default" if args.parse_workers is None else args.parse_workers
    banner(
        f"poll: {args.feeds} feeds x {args.items} items, concurrency {args.concurrency}, "
        f"per_host {args.per_host}, parse_workers {workers}",
        kinds,
        args.pg_url,
    )
    timer = Timer()
    instrument(timer)
    server = FeedServerProcess(args.feeds, args.items, args.seed)
    rows: list[list[Any]] = []
    ceilings: list[list[Any]] = []
    try:
        for kind in kinds:
            with scratch_database(kind, args.pg_url, pg_options=args.pg_options) as url:
                rows += bench_one(kind, url, server, args, timer, ceilings)
    finally:
        server.stop()
    print()
    print_table(
        [
            "db",
            "pass",
            "feeds",
            "new",
            "updated",
            "outcomes",
            "wall s",
            "feeds/s",
            "entries/s",
            "MB/s",
            "writer %",
            "writer cpu s",
            "parse s",
            "prepare s",
            "write s",
            "other s",
        ],
        rows,
    )
    print(
        "entries/s = entries in the polled documents / wall time (for 304 and 200-same nothing is parsed);\n"
        "writer % = busy time of the single writer thread (writer cpu s: the CPU time it used, less\n"
        "sensitive to other load on the machine); parse/prepare/write/other split the busy time\n"
        "(with a parse pool, parse and prepare run in the worker processes and show as 0)."
    )
    if ceilings:
        print()
        print_table(["db", "cold poll s", "bare feedparser.parse s", "ratio", "entries parsed"], ceilings)
        print(
            "bare feedparser.parse: the same cold documents parsed one after another in this process,\n"
            "timed just before the cold pass (the ceiling of a single-process parse; target ratio <= 0.5)."
        )
    print(load_note(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
