"""Several pollers on one PostgreSQL database: 1 poller against 3, and 3 with one killed halfway.

A subprocess serves ``--sources`` small RSS feeds spread over 30 loopback hosts
(127.0.0.2 to 127.0.0.31: Linux routes all of 127/8 to lo), answering each request
after ``--delay`` seconds and logging it; the pollers are real ``aggregator poll``
processes on a fresh PostgreSQL database, with the default per-host limit
(``[poller] per_host``, counted over every poller).

By default (``--mode revalidate``) one poller first fetches every feed (cold, timed
too), then before each run every source is made due again and the server answers
the conditional GETs 304 (after the delay): the steady state of a poller, where the
wait on the servers dominates. ``--mode cold`` runs each on a fresh database with
every feed new: parsing and writing dominate, so the figures measure the CPU the
pollers get. Three runs:

* 1 poller      one ``aggregator poll``: wall time until it exits;
* 3 pollers     three started together: wall time until all three exit;
* 3, 1 killed   three ``aggregator poll --loop``, one killed with SIGKILL once half the
                sources were fetched: wall time until every source is polled (the killed
                poller's leases expire after ``--lease-ttl`` seconds and the others take
                its sources), then the other two are stopped.

For each: the wall time (from starting the pollers, their start-up included), the time
the server saw requests (first request to last answer), fetches per source from the
server's log (every due source exactly once, but for those in flight at the kill, fetched
again after the expiry) and the most requests one host had in flight at once (at most
``per_host``, whatever the number of pollers).

    python bench/pollers.py                          # 600 sources, 200 ms per response
    python bench/pollers.py --sources 1200 --delay 0.5 --lease-ttl 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import add_idle_argument, banner, free_port, print_table, scratch_database, wait_idle
from sqlalchemy import func, or_, select, update

from aggregator.db import make_engine
from aggregator.store.sources import SOURCE

HOSTS = [f"127.0.0.{n}" for n in range(2, 32)]
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def feed(number: int) -> bytes:
    items = "".join(
        f"<item><title>Post {k} of feed {number}</title><link>https://blog{number}.example/{k}</link>"
        f"<pubDate>Mon, 05 Feb 2024 10:0{k}:00 GMT</pubDate></item>"
        for k in range(5)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {number}</title>'
        f"<link>https://blog{number}.example/</link>{items}</channel></rss>"
    ).encode()


def serve(port: int, delay: float) -> int:
    """The feed server process: ``/feeds/{n}.xml`` on every host, ``/_stats`` and ``/_reset``."""
    from aiohttp import web

    fetches: Counter[int] = Counter()
    in_flight: Counter[str] = Counter()
    most: Counter[str] = Counter()
    span: list[float] = []  # the first request's arrival, the last answer's

    async def answer(request: web.Request) -> web.Response:
        host = request.host.rsplit(":", 1)[0]
        span[:1] = span[:1] or [time.monotonic()]
        fetches[int(request.match_info["n"])] += 1
        in_flight[host] += 1
        most[host] = max(most[host], in_flight[host])
        try:
            await asyncio.sleep(delay)
        finally:
            in_flight[host] -= 1
            span[1:] = [time.monotonic()]
        etag = f'"v{request.match_info["n"]}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        body = feed(int(request.match_info["n"]))
        return web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})

    async def stats(_request: web.Request) -> web.Response:
        seconds = span[-1] - span[0] if len(span) == 2 else 0.0
        figures = {"fetches": dict(fetches), "most_in_flight": max(most.values(), default=0), "span": seconds}
        return web.json_response(figures)

    async def reset(_request: web.Request) -> web.Response:
        fetches.clear()
        most.clear()
        span.clear()
        return web.json_response({})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feeds/{n}.xml", answer)
        app.router.add_get("/_stats", stats)
        app.router.add_get("/_reset", reset)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for host in HOSTS:
            await web.TCPSite(runner, host, port, backlog=1024).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())
    return 0


def call(port: int, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{HOSTS[0]}:{port}{path}", timeout=30) as resp:
        data: dict[str, Any] = json.loads(resp.read())
        return data


def start_server(port: int, delay: float) -> subprocess.Popen[bytes]:
    script = str(Path(__file__).resolve())
    proc = subprocess.Popen([sys.executable, script, "--serve", "--port", str(port), "--delay", str(delay)])
    deadline = time.monotonic() + 30
    while True:
        try:
            call(port, "/_stats")
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the feed server did not start") from None
            time.sleep(0.1)


def write_config(directory: Path, port: int, args: argparse.Namespace) -> Path:
    lines = [
        "[poller]",
        "allow_private_networks = true  # the feeds are on loopback addresses",
        f"concurrency = {args.concurrency}",
        f"per_host = {args.per_host}",
        f"lease_ttl = {args.lease_ttl}",
        f"parse_workers = {args.parse_workers}",
        'interval = "1h"',
        "",
    ]
    for n in range(args.sources):
        lines += ["[[sources]]", f'url = "http://{HOSTS[n % len(HOSTS)]}:{port}/feeds/{n}.xml"', ""]
    path = directory / "feeds.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def start_poller(config: Path, url: str, *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    env["NO_PROXY"] = env["no_proxy"] = ",".join(["127.0.0.1", *HOSTS])
    command = [sys.executable, "-m", "aggregator.cli", "--config", str(config), "--db", url, "poll"]
    return subprocess.Popen([*command, "--quiet", *extra], env=env, stdout=subprocess.DEVNULL)


def unpolled(url: str, since: datetime) -> int:
    """Sources not polled since ``since``."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            stale = or_(SOURCE.c.last_polled_at.is_(None), SOURCE.c.last_polled_at < since)
            return int(conn.execute(select(func.count()).select_from(SOURCE).where(stale)).scalar() or 0)
    finally:
        engine.dispose()


def make_all_due(url: str) -> None:
    engine = make_engine(url)  # the schema exists before the pollers start
    try:
        with engine.begin() as conn:
            conn.execute(update(SOURCE).values(next_poll_at=None))
    finally:
        engine.dispose()


def run(name: str, url: str, config: Path, port: int, args: argparse.Namespace) -> list[Any]:
    """One run: its row of figures."""
    make_all_due(url)
    call(port, "/_reset")
    since = datetime.now(UTC)
    count, kill = {"cold, 1 poller": (1, False), "1 poller": (1, False), "3 pollers": (3, False)}.get(
        name, (3, True)
    )
    started = time.perf_counter()
    extra = ("--loop",) if kill else ()
    pollers = [start_poller(config, url, *extra) for _ in range(count)]
    killed_at = None
    try:
        if not kill:
            codes = [p.wait(timeout=args.timeout) for p in pollers]
            if any(codes):
                raise RuntimeError(f"{name}: a poller exited with {codes}")
        else:
            deadline = time.monotonic() + args.timeout
            while sum(call(port, "/_stats")["fetches"].values()) < args.sources // 2:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name}: half the sources were never fetched")
                time.sleep(0.05)
            pollers[0].send_signal(signal.SIGKILL)
            killed_at = time.perf_counter() - started
            while unpolled(url, since):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name}: some sources were never polled")
                time.sleep(0.2)
        wall = time.perf_counter() - started
    finally:
        for proc in pollers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in pollers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    stats = call(port, "/_stats")
    fetched = Counter(stats["fetches"].get(str(n), 0) for n in range(args.sources))
    spread = ", ".join(f"{times}x: {sources}" for times, sources in sorted(fetched.items()))
    when = f"{killed_at:.1f}" if killed_at is not None else "-"
    return [name, count, wall, stats["span"], when, spread, stats["most_in_flight"]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=600, help="feeds on 30 hosts (default 600)")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds before each answer (default 0.2)")
    parser.add_argument("--concurrency", type=int, default=16, help="[poller] concurrency (default 16)")
    parser.add_argument("--per-host", type=int, default=2, help="[poller] per_host (default 2)")
    parser.add_argument("--lease-ttl", type=int, default=10, help="[poller] lease_ttl, seconds (default 10)")
    parser.add_argument("--parse-workers", type=int, default=0, help="[poller] parse_workers (default 0)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up a scenario after this long")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="a database next to which a scratch one is made")
    parser.add_argument("--db-prefix", default="bench_", help="name prefix of the scratch database")
    parser.add_argument("--mode", choices=("revalidate", "cold"), default="revalidate")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    add_idle_argument(parser)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.port, args.delay)
    wait_idle(args.wait_idle)
    banner(
        f"pollers: {args.sources} sources on {len(HOSTS)} hosts, {args.delay * 1000:.0f} ms per answer, "
        f"concurrency {args.concurrency}, per_host {args.per_host}, lease_ttl {args.lease_ttl} s, "
        f"mode {args.mode}",
        ["postgres"],
        args.pg_url,
    )
    port = free_port()
    server = start_server(port, args.delay)
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="aggbench-") as tmp:
            config = write_config(Path(tmp), port, args)
            runs = ("1 poller", "3 pollers", "3, 1 killed")
            if args.mode == "cold":
                for name in runs:
                    with scratch_database("postgres", args.pg_url, prefix=args.db_prefix) as url:
                        rows.append(run(name, url, config, port, args))
                        print(f"   {rows[-1]}", flush=True)
            else:
                with scratch_database("postgres", args.pg_url, prefix=args.db_prefix) as url:
                    for name in ("cold, 1 poller", *runs):
                        rows.append(run(name, url, config, port, args))
                        print(f"   {rows[-1]}", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    print()
    headers = [
        "run",
        "pollers",
        "wall s",
        "fetching s",
        "killed at s",
        "fetches per source",
        "most in flight/host",
    ]
    print_table(headers, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
