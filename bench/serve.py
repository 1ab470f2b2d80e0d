"""The feed server under load: cold/warm/304 latency, then many readers while polls change the data.

1. The demo snapshots (feeds/samples/, copied to a temporary directory) are
   served by ``aggregator.demo.start_sample_server`` and ingested with the real
   ``Poller``.
2. The real server runs in a subprocess:
   ``python -m aggregator.cli --config CFG --db URL serve --port P``.
3. (a) Latency of single requests, one at a time: a feed's first request
   (cache miss: slice query + render; several distinct slices), the same
   feed again (cache hit), and a conditional request answered 304.
4. (b) ``--readers`` concurrent readers (aiohttp, one process, no think
   time) send conditional GETs over a mix of feed URLs for ``--seconds``,
   while another process polls the sources again every ``--poll-interval``
   seconds after changing them (bookmark counts go up, a new entry appears),
   so data versions and ETags move during the run.

Any status other than 200/304 and any exception counts as an error.

    python bench/serve.py                          # SQLite, 200 readers, 30 s
    python bench/serve.py --db postgres --seconds 60 --readers 400
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from _common import (
    REPO,
    add_db_arguments,
    add_idle_argument,
    banner,
    free_port,
    load_note,
    median,
    percentile,
    print_table,
    scratch_database,
    selected_kinds,
    wait_idle,
)

from aggregator.config import load_config
from aggregator.db import make_engine
from aggregator.demo import SAMPLES, start_sample_server
from aggregator.poller import Poller

DEMO_CONFIG = REPO / "feeds" / "demo.toml"
DEMO_HOST = "127.0.0.1:8001"
FEED_MIX = (
    "/feeds/all.atom",
    "/feeds/all.json",
    "/feeds/tag/kubernetes.atom",
    "/feeds/tag/k8s.rss",
    "/feeds/tag/golang.atom",
    "/feeds/tag/docker.json",
    "/feeds/site/deeeet.com.atom",
    "/feeds/site/deeeet.com.json?min_bookmarks=250",
    "/feeds/k8s-popular.atom",
    "/feeds/golang-not-docker.atom",
    "/feeds/deeeet-popular.rss",
    "/feeds/tag/kubernetes.atom?not_tag=docker",
)
LATENCY_URLS = ("/feeds/tag/kubernetes.atom", "/feeds/golang-not-docker.atom")
REQUEST_TIMEOUT = 30.0
BOOKMARKS = re.compile(rb"<hatena:bookmarkcount>(\d+)</hatena:bookmarkcount>")


# -------------------------------------------------------------------------------- the polling process


def mutate(directory: Path, round_no: int, stamp: int) -> None:
    """Change the Hatena snapshots: every bookmark count +1, and one new kubernetes entry."""
    for path in sorted(directory.glob("hatena-*.rdf")):
        data = BOOKMARKS.sub(
            lambda m: b"<hatena:bookmarkcount>%d</hatena:bookmarkcount>" % (int(m.group(1)) + 1),
            path.read_bytes(),
        )
        if path.name == "hatena-tag-kubernetes.rdf":
            entry = (
                f'<item rdf:about="https://bench.example.com/k8s/{round_no}">'
                f"<title>Bench entry {round_no}</title>"
                f"<link>https://bench.example.com/k8s/{round_no}</link>"
                f"<description>Entry added by poll round {round_no}</description>"
                f"<dc:date>2026-11-{1 + round_no % 23:02d}T{round_no % 24:02d}:00:00+09:00</dc:date>"
                "<dc:subject>kubernetes</dc:subject><dc:subject>bench</dc:subject>"
                f"<hatena:bookmarkcount>{round_no}</hatena:bookmarkcount></item>\n"
            ).encode()
            data = data.replace(b"</rdf:RDF>", entry + b"</rdf:RDF>")
        path.write_bytes(data)
        os.utime(path, (stamp, stamp))  # whole seconds, one more each round: Last-Modified always moves


def run_poller(args: argparse.Namespace) -> int:
    """The other process: change the sources, poll them all, pause; until the time is up."""
    config = load_config(Path(args.config))
    engine = make_engine(args.url)
    samples = start_sample_server(args.samples_port, Path(args.samples))
    stamp = int(time.time())
    rounds: list[dict[str, Any]] = []
    deadline = time.monotonic() + args.seconds
    try:
        for round_no in range(1, 100_000):
            if time.monotonic() >= deadline:
                break
            stamp = max(stamp + 1, int(time.time()) + 1)  # newer than any Last-Modified sent so far
            mutate(Path(args.samples), round_no, stamp)
            report = asyncio.run(Poller(engine, config).run_once(force=True))
            rounds.append(
                {
                    "elapsed": report.elapsed,
                    "new": sum(o.new for o in report.outcomes),
                    "updated": sum(o.updated for o in report.outcomes),
                    "failed": report.count("error") + report.count("gone"),
                    "locked": report.locked_by is not None,
                }
            )
            pause = min(args.poll_interval, max(0.0, deadline - time.monotonic()))
            time.sleep(pause)
    finally:
        samples.shutdown()
        samples.server_close()
        engine.dispose()
    print("POLLS " + json.dumps(rounds), flush=True)
    return 0


# -------------------------------------------------------------------------------- the server


class ServerProcess:
    def __init__(self, config: Path, url: str, log: Path, program: Sequence[str] = ()) -> None:
        """``program``: the command before ``--config`` (default: this Python, ``-m aggregator.cli``)."""
        self.port = free_port()
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            [
                *(program or (sys.executable, "-m", "aggregator.cli")),
                "--config",
                str(config),
                "--db",
                url,
                "serve",
                "--port",
                str(self.port),
            ],
            cwd=REPO,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=5) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the server did not start:\n{self.log.read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.2)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._log_file.close()


# -------------------------------------------------------------------------------- (a) latency


async def single_latencies(server: ServerProcess, repeat: int) -> list[list[Any]]:
    rows: list[list[Any]] = []
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def get(path: str, headers: dict[str, str] | None = None) -> tuple[float, int, str, int]:
            started = time.perf_counter()
            async with session.get(server.url(path), headers=headers or {}) as resp:
                body = await resp.read()
                return (
                    (time.perf_counter() - started) * 1000,
                    resp.status,
                    resp.headers.get("ETag", ""),
                    len(body),
                )

        for path in LATENCY_URLS:
            sep = "&" if "?" in path else "?"
            cold = [await get(f"{path}{sep}limit={limit}") for limit in range(50 - repeat // 2, 50)]
            first, status, etag, size = await get(path)  # also a miss: limit=50 is the default
            warm = [await get(path) for _ in range(repeat)]
            conditional = [await get(path, {"If-None-Match": etag}) for _ in range(repeat)]
            cold.append((first, status, etag, size))
            for label, results in (
                ("cold (cache miss)", cold),
                ("warm (cache hit, 200)", warm),
                ("304 (If-None-Match)", conditional),
            ):
                samples = [r[0] for r in results]
                statuses = Counter(r[1] for r in results)
                rows.append(
                    [
                        path,
                        label,
                        len(samples),
                        median(samples),
                        percentile(samples, 90),
                        max(samples),
                        " ".join(f"{k}x{v}" for k, v in sorted(statuses.items())),
                        results[-1][3],
                    ]
                )
    return rows


# -------------------------------------------------------------------------------- (b) load


@dataclass
class LoadResult:
    latencies: dict[int, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    elapsed: float = 0.0
    per_second: list[int] = field(default_factory=list)


async def load(server: ServerProcess, readers: int, seconds: float, seed: int) -> LoadResult:
    result = LoadResult()
    buckets: Counter[int] = Counter()
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=readers)
    started = time.perf_counter()
    deadline = started + seconds

    async def reader(number: int, session: aiohttp.ClientSession) -> None:
        rng = random.Random(seed * 10_000 + number)
        etags: dict[str, str] = {}
        for _ in range(10_000_000):  # bounded; the deadline ends it long before
            if time.perf_counter() >= deadline:
                return
            path = rng.choice(FEED_MIX)
            headers = {"If-None-Match": etags[path]} if path in etags else {}
            t0 = time.perf_counter()
            try:
                async with session.get(server.url(path), headers=headers) as resp:
                    body = await resp.read()
                    status = resp.status
                    if status == 200:
                        etags[path] = resp.headers.get("ETag", "")
            except Exception as exc:
                result.errors[type(exc).__name__] += 1
                continue
            t1 = time.perf_counter()
            if status not in (200, 304):
                result.errors[f"HTTP {status}"] += 1
            result.latencies.setdefault(status, []).append((t1 - t0) * 1000)
            result.bytes += len(body)
            buckets[int(t1 - started)] += 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(reader(n, session) for n in range(readers)))
    result.elapsed = time.perf_counter() - started
    result.per_second = [buckets.get(s, 0) for s in range(int(seconds))]
    return result


def start_poller(
    args: argparse.Namespace, url: str, config: Path, samples: Path, port: int
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--role",
            "poller",
            "--url",
            url,
            "--config",
            str(config),
            "--samples",
            str(samples),
            "--samples-port",
            str(port),
            "--seconds",
            str(args.seconds),
            "--poll-interval",
            str(args.poll_interval),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )


def poller_summary(proc: subprocess.Popen[str], timeout: float) -> list[dict[str, Any]]:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=15)
    for line in out.splitlines():
        if line.startswith("POLLS "):
            rounds: list[dict[str, Any]] = json.loads(line[len("POLLS ") :])
            return rounds
    return []


def data_version(server: ServerProcess) -> int:
    with urllib.request.urlopen(server.url("/readyz"), timeout=10) as resp:
        return int(json.loads(resp.read())["data_version"])


def bench_one(kind: str, url: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    samples = work / f"samples-{kind}"
    shutil.copytree(SAMPLES, samples)
    port = free_port()
    config = work / f"bench-{kind}.toml"
    config.write_text(
        DEMO_CONFIG.read_text(encoding="utf-8").replace(DEMO_HOST, f"127.0.0.1:{port}"), "utf-8"
    )
    engine = make_engine(url)
    sample_server = start_sample_server(port, samples)
    try:
        report = asyncio.run(Poller(engine, load_config(config)).run_once(force=True))
    finally:
        sample_server.shutdown()
        sample_server.server_close()
        engine.dispose()
    print(f"   {kind} ingest: {report.summary()}", flush=True)
    server = ServerProcess(config, url, work / f"server-{kind}.log")
    try:
        latency = asyncio.run(single_latencies(server, args.repeat))
        version_before = data_version(server)
        poller = None if args.no_poll else start_poller(args, url, config, samples, port)
        try:
            result = asyncio.run(load(server, args.readers, args.seconds, args.seed))
        finally:
            rounds = poller_summary(poller, args.seconds + 120) if poller else []
        version_after = data_version(server)
    finally:
        server.stop()
    log_tail = server.log.read_text(errors="replace").strip().splitlines()[-5:]
    return {
        "kind": kind,
        "latency": latency,
        "load": result,
        "rounds": rounds,
        "versions": version_after - version_before,
        "log": log_tail,
    }


def report(outcomes: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print()
    print("(a) single requests, one at a time, milliseconds:")
    print_table(
        ["db", "feed", "request", "n", "median ms", "p90 ms", "max ms", "statuses", "bytes"],
        [[o["kind"], *row] for o in outcomes for row in o["latency"]],
    )
    polling = "no polling" if args.no_poll else f"polls every {args.poll_interval:g} s in another process"
    print(f"(b) {args.readers} concurrent readers, conditional GETs over {len(FEED_MIX)} feeds, {polling}:")
    rows = []
    for o in outcomes:
        res: LoadResult = o["load"]
        every = [v for values in res.latencies.values() for v in values]
        total = len(every) + sum(v for k, v in res.errors.items() if not k.startswith("HTTP"))
        ok200 = len(res.latencies.get(200, []))
        ok304 = len(res.latencies.get(304, []))
        errors = sum(res.errors.values())
        rows.append(
            [
                o["kind"],
                res.elapsed,
                total,
                total / res.elapsed,
                errors,
                ok200,
                ok304,
                median(every),
                percentile(every, 90),
                percentile(every, 99),
                median(res.latencies.get(200, [])),
                median(res.latencies.get(304, [])),
                res.bytes / res.elapsed / 1e6,
            ]
        )
    print_table(
        [
            "db",
            "seconds",
            "requests",
            "req/s",
            "errors",
            "200",
            "304",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p50 200",
            "p50 304",
            "MB/s",
        ],
        rows,
    )
    poll_rows = []
    for o in outcomes:
        rounds = o["rounds"]
        durations = [r["elapsed"] for r in rounds]
        poll_rows.append(
            [
                o["kind"],
                len(rounds),
                sum(r["new"] for r in rounds),
                sum(r["updated"] for r in rounds),
                sum(r["failed"] for r in rounds),
                sum(1 for r in rounds if r["locked"]),
                median(durations),
                max(durations, default=0.0),
                o["versions"],
            ]
        )
    print("polls that ran during (b):")
    print_table(
        [
            "db",
            "polls",
            "new",
            "updated",
            "failed sources",
            "locked out",
            "median s",
            "max s",
            "data versions",
        ],
        poll_rows,
    )
    for o in outcomes:
        res = o["load"]
        if res.errors:
            print(f"{o['kind']} errors: {dict(res.errors)}")
            print("   server log tail: " + " | ".join(o["log"]))
        trace = res.per_second
        if trace:
            print(f"{o['kind']} requests per second over the run: min {min(trace)}, max {max(trace)}")
    print("(failed sources: broken.xml is not a feed and fails on every poll by design)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=200, help="concurrent readers (default 200)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the load run (default 30)")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="pause between polls (default 2 s)")
    parser.add_argument("--repeat", type=int, default=30, help="requests per latency figure in (a)")
    parser.add_argument(
        "--no-poll", action="store_true", help="no polling during (b): data and ETags stay put"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--role", choices=("bench", "poller"), default="bench", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--samples", help=argparse.SUPPRESS)
    parser.add_argument("--samples-port", type=int, help=argparse.SUPPRESS)
    add_db_arguments(parser, default="sqlite")
    add_idle_argument(parser)
    args = parser.parse_args(argv)
    if args.role == "poller":
        return run_poller(args)
    if not 1 <= args.readers <= 5000 or not 1 <= args.seconds <= 3600 or not 2 <= args.repeat <= 1000:
        parser.error("--readers 1..5000, --seconds 1..3600, --repeat 2..1000")
    if args.poll_interval < 0 or args.poll_interval > 600:
        parser.error("--poll-interval 0..600")
    kinds = selected_kinds(args.db)
    wait_idle(args.wait_idle)
    banner(f"serve: {args.readers} readers for {args.seconds:g} s", kinds, args.pg_url)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="aggbench-serve-") as tmp:
        for kind in kinds:
            with scratch_database(kind, args.pg_url, pg_options=args.pg_options) as url:
                outcomes.append(bench_one(kind, url, args, Path(tmp)))
    report(outcomes, args)
    print(load_note(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
