"""The hot feed under wrk: our server against fixed-bytes ceilings, 200 and 304.

1. The demo snapshots are ingested into a scratch database with the real
   ``Poller``, and ``aggregator serve`` runs in a subprocess pinned to the
   server CPUs (``--server-cpus``, default ``0``).
2. The feed's bytes and ETag are fetched once. Two ceilings serve exactly those
   bytes, pinned the same way: an ``async def`` FastAPI route and a bare ASGI
   app (``bench/ceiling_app.py``), both under the same uvicorn.
3. ``wrk`` (pinned to ``--client-cpus``, default ``1``; 64 connections) loads
   each server in turn for ``--seconds``, first plain GETs (200) and then with
   ``If-None-Match`` (304), for ``--rounds`` rounds interleaved so that the
   machine's other load falls on every server alike. The median requests per
   second of each, and our ratio to each ceiling, are printed.

    python bench/hotfeed.py                                   # /feeds/tag/kubernetes.atom, 3 rounds of 10 s
    python bench/hotfeed.py --path /feeds/all.json --workers 2 --server-cpus 0,1
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from _common import REPO, add_idle_argument, banner, free_port, load_note, median, print_table, wait_idle

from aggregator.config import load_config
from aggregator.db import make_engine
from aggregator.demo import SAMPLES, start_sample_server
from aggregator.poller import Poller

DEMO_CONFIG = REPO / "feeds" / "demo.toml"
DEMO_HOST = "127.0.0.1:8001"
RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
LATENCY = re.compile(r"50%\s+([\d.]+)(us|ms|s)")
TARGETS = ("aggregator", "fastapi", "asgi")


def ingest(work: Path, url: str) -> Path:
    samples = work / "samples"
    shutil.copytree(SAMPLES, samples)
    port = free_port()
    config = work / "bench.toml"
    config.write_text(DEMO_CONFIG.read_text("utf-8").replace(DEMO_HOST, f"127.0.0.1:{port}"), "utf-8")
    engine = make_engine(url)
    server = start_sample_server(port, samples)
    try:
        report = asyncio.run(Poller(engine, load_config(config)).run_once(force=True))
    finally:
        server.shutdown()
        server.server_close()
        engine.dispose()
    print(f"   ingest: {report.summary()}", flush=True)
    return config


class Server:
    def __init__(
        self, command: Sequence[str], cpus: str, log: Path, env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self._log = log.open("wb")
        argv = [a.replace("{port}", str(self.port)) for a in command]
        self.proc = subprocess.Popen(
            ["taskset", "-c", cpus, *argv], cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=5):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{argv[:4]} did not start: {log.read_text(errors='replace')[-1500:]}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def wrk(url: str, cpus: str, seconds: float, connections: int, etag: str | None) -> tuple[float, float]:
    """Requests per second and the median latency in milliseconds."""
    header = ["-H", f"If-None-Match: {etag}"] if etag else []
    out = subprocess.run(
        [
            "taskset",
            "-c",
            cpus,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--latency",
            *header,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    rate = RATE.search(out)
    lat = LATENCY.search(out)
    if rate is None or lat is None:
        raise RuntimeError(f"unreadable wrk output:\n{out}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[lat.group(2)]
    return float(rate.group(1)), float(lat.group(1)) * scale


def fetch(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.read(), resp.headers["ETag"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="/feeds/tag/kubernetes.atom", help="the feed to load")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each wrk run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1, help="aggregator serve --workers (default 1)")
    parser.add_argument("--server-cpus", default="0", help="taskset CPU list for the servers")
    parser.add_argument("--client-cpus", default="1", help="taskset CPU list for wrk")
    add_idle_argument(parser)
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 600 or not 1 <= args.rounds <= 20 or not 1 <= args.connections <= 4096:
        parser.error("--seconds 1..600, --rounds 1..20, --connections 1..4096")
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        parser.error("needs wrk and taskset (apt-get install wrk util-linux)")
    wait_idle(args.wait_idle)
    banner(f"hot feed {args.path}: wrk -c{args.connections}, {args.rounds} x {args.seconds:g} s")
    with tempfile.TemporaryDirectory(prefix="aggbench-hot-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'bench.db'}"
        config = ingest(work, url)
        ours = [sys.executable, "-m", "aggregator.cli", "--config", str(config), "--db", url, "serve"]
        ours += ["--port", "{port}", "--workers", str(args.workers)]
        servers = {"aggregator": Server(ours, args.server_cpus, work / "ours.log")}
        try:
            body, etag = fetch(servers["aggregator"].url(args.path))
            (work / "body").write_bytes(body)
            (work / "etag").write_text(etag)
            env = {
                "CEILING_BODY": str(work / "body"),
                "CEILING_ETAG": str(work / "etag"),
                "PATH": "/usr/bin:/bin",
            }
            for kind in ("fastapi", "asgi"):
                command = [sys.executable, str(REPO / "bench" / "ceiling_app.py"), kind, "{port}"]
                servers[kind] = Server(command, args.server_cpus, work / f"{kind}.log", env)
            print(f"   feed: {len(body):,} bytes, ETag {etag}", flush=True)
            results: dict[tuple[str, str], list[tuple[float, float]]] = {}
            for _ in range(args.rounds):
                for mode in ("200", "304"):
                    for kind in TARGETS:
                        figure = wrk(
                            servers[kind].url(args.path),
                            args.client_cpus,
                            args.seconds,
                            args.connections,
                            etag if mode == "304" else None,
                        )
                        results.setdefault((kind, mode), []).append(figure)
        finally:
            for server in servers.values():
                server.stop()
    rows = []
    for mode in ("200", "304"):
        rate = {k: median([r for r, _ in results[(k, mode)]]) for k in TARGETS}
        p50 = {k: median([lat for _, lat in results[(k, mode)]]) for k in TARGETS}
        rows.append(
            [
                mode,
                f"{rate['aggregator']:.0f}",
                f"{rate['fastapi']:.0f}",
                f"{rate['asgi']:.0f}",
                f"{rate['aggregator'] / rate['fastapi']:.2f}x",
                f"{rate['aggregator'] / rate['asgi']:.2f}x",
                f"{p50['aggregator']:.2f} / {p50['fastapi']:.2f} / {p50['asgi']:.2f}",
            ]
        )
    print()
    print_table(
        [
            "status",
            "ours req/s",
            "FastAPI fixed",
            "ASGI fixed",
            "vs FastAPI",
            "vs ASGI",
            "p50 ms ours/fa/asgi",
        ],
        rows,
    )
    print("targets: >= 0.8x the FastAPI fixed-bytes route (stretch: >= 0.5x bare ASGI)")
    print(load_note(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
