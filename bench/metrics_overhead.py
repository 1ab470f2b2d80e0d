"""What the request metrics cost on the feed hot path: requests per second on one feed
route (a slice cache hit, the common case), served with and without ``RequestMetrics``.

The demo samples are ingested into a temporary SQLite file (``aggregator demo
--no-serve``). The same app is then served by uvicorn in a subprocess, as
``aggregator serve`` serves it, once as built and once with the metrics middleware
taken out of its middleware list, and ``wrk`` loads one feed URL on each for
``--seconds``. The two servers take turns ``--rounds`` times, so that load from
elsewhere on the machine falls on both alike; medians are printed. Then the
middleware's own cost is timed in this process in CPU time (less sensitive to
other load than the HTTP figures): ``--calls`` requests through ``RequestMetrics``
around an app that answers at once, against the same app called directly.

    python bench/metrics_overhead.py                        # 5 rounds of 10 s, 16 connections
    python bench/metrics_overhead.py --rounds 3 --seconds 5 --connections 32
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from _common import REPO, free_port, load_note

FEED = "/feeds/tag/kubernetes.atom"
SERVER = """
import sys, uvicorn
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from aggregator.api import create_app
from aggregator.api.metrics import RequestMetrics
from aggregator.config import load_config
from aggregator.db import make_engine

app = create_app(make_engine(sys.argv[1]), load_config(Path(sys.argv[2])))
if sys.argv[4] == "without":
    app.user_middleware = [m for m in app.user_middleware if m.cls is not RequestMetrics]
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning", server_header=False,
            limit_concurrency=1000, timeout_keep_alive=10)
"""


def ingest(directory: Path) -> tuple[str, Path]:
    db = f"sqlite:///{directory / 'bench.db'}"
    config = REPO / "feeds" / "demo.toml"
    cli = [sys.executable, "-m", "aggregator.cli", "--config", str(config), "--db", db]
    demo = [*cli, "demo", "--no-serve", "--samples-port", str(free_port())]
    subprocess.run(demo, check=True, cwd=directory, stdout=subprocess.DEVNULL)
    return db, config


def requests_per_second(db: str, config: Path, variant: str, args: argparse.Namespace) -> float:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, db, str(config), str(port), variant], cwd=REPO)
    try:
        url = f"http://127.0.0.1:{port}{FEED}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as reply:
                    assert reply.status == 200
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        wrk = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", url]
        done = subprocess.run(wrk, check=False, capture_output=True, text=True)
        out = done.stdout
        if done.returncode != 0:
            raise SystemExit(f"wrk failed: {done.stdout}{done.stderr}")
        if "Non-2xx" in out or "Socket errors" in out:
            raise SystemExit(f"errors under load:\n{out}")
        match = re.search(r"Requests/sec:\s+([\d.]+)", out)
        assert match, out
        return float(match.group(1))
    finally:
        server.terminate()
        server.wait(timeout=10)


async def answer(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def drive(app: Any, calls: int) -> float:
    """CPU seconds per request through ``app``."""
    route = SimpleNamespace(path="/feeds/tag/{tag}.{ext}")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        return None

    started = time.process_time()
    for _ in range(calls):
        await app({"type": "http", "method": "GET", "path": FEED, "route": route}, receive, send)
    return (time.process_time() - started) / calls


def middleware_cost(db: str, config: Path, calls: int) -> tuple[float, float]:
    from aggregator.api import create_app
    from aggregator.api.metrics import ApiMetrics, RequestMetrics
    from aggregator.config import load_config
    from aggregator.db import make_engine

    app = create_app(make_engine(db), load_config(config))
    wrapped = RequestMetrics(answer, ApiMetrics(app.state.settings))
    bare = min(asyncio.run(drive(answer, calls)) for _ in range(3))
    metered = min(asyncio.run(drive(wrapped, calls)) for _ in range(3))
    return bare, metered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        db, config = ingest(Path(tmp))
        results: dict[str, list[float]] = {"with": [], "without": []}
        bare, metered = middleware_cost(db, config, args.calls)
        for n in range(args.rounds):
            for variant in ("with", "without") if n % 2 == 0 else ("without", "with"):
                results[variant].append(requests_per_second(db, config, variant, args))
                print(f"round {n + 1} {variant:>7} metrics: {results[variant][-1]:8.0f} req/s", flush=True)
    with_, without = statistics.median(results["with"]), statistics.median(results["without"])
    load = f"wrk -t1 -c{args.connections} -d{args.seconds}s"
    print(f"\nGET {FEED} (slice cache hit), {load}, {args.rounds} rounds")
    print(f"median without metrics {without:8.0f} req/s")
    print(f"median with metrics    {with_:8.0f} req/s  ({(with_ - without) / without:+.1%})")
    print(
        f"middleware alone: {(metered - bare) * 1e6:.1f} µs CPU per request ({args.calls} calls, best of 3)"
    )
    print(f"  = {(metered - bare) * without:.1%} of one core at the median rate without metrics")
    print(load_note())


if __name__ == "__main__":
    main()
