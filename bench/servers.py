"""Which HTTP server: the hot feed under wrk with each candidate, ours and the bare ASGI ceiling.

The same application (``aggregator.api.app:app_from_environment`` over the demo
data, or ``bench/ceiling_app.py``'s bare ASGI app with the same bytes) runs under
uvicorn with h11 and asyncio, uvicorn with httptools and uvloop, and granian,
each pinned to ``--server-cpus``; wrk (pinned to ``--client-cpus``) loads each in
turn, interleaved over ``--rounds``. Prints the median requests per second for
200 and 304, so the choice of server rests on figures from one run.

    python bench/servers.py                   # 2 rounds of 8 s per server and status
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from _common import REPO, add_idle_argument, banner, load_note, median, print_table, wait_idle
from hotfeed import Server, fetch, ingest, wrk

SERVERS = {
    "uvicorn h11+asyncio": ["-m", "uvicorn", "--http", "h11", "--loop", "asyncio"],
    "uvicorn httptools+uvloop": ["-m", "uvicorn", "--http", "httptools", "--loop", "uvloop"],
    "granian": ["-m", "granian", "--interface", "asgi", "--no-ws", "--log-level", "warning"],
}


def available() -> list[str]:
    """The candidates installed here (``pip install uvloop httptools`` for uvicorn's fast parts)."""
    fast = all(importlib.util.find_spec(m) for m in ("uvloop", "httptools"))
    return [s for s in SERVERS if fast or "httptools" not in s]


def command(server: str, app: str) -> list[str]:
    argv = [sys.executable, *SERVERS[server], "--host", "127.0.0.1", "--port", "{port}"]
    if server.startswith("uvicorn"):
        argv += ["--log-level", "warning", "--no-server-header"]
    if app == "aggregator":
        return [*argv, "--factory", "aggregator.api.app:app_from_environment"]
    return [*argv, "ceiling_app:asgi_app"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="/feeds/tag/kubernetes.atom")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--client-cpus", default="1")
    add_idle_argument(parser)
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 600 or not 1 <= args.rounds <= 20:
        parser.error("--seconds 1..600, --rounds 1..20")
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        parser.error("needs wrk and taskset")
    wait_idle(args.wait_idle)
    banner(f"servers for {args.path}: wrk -c{args.connections}, {args.rounds} x {args.seconds:g} s")
    results: dict[tuple[str, str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="aggbench-servers-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'bench.db'}"
        config = ingest(work, url)
        env = {**os.environ, "AGGREGATOR_CONFIG": str(config), "AGGREGATOR_DB": url}
        env["PYTHONPATH"] = f"{REPO / 'bench'}{os.pathsep}{REPO}"
        first = Server(
            command("uvicorn httptools+uvloop", "aggregator"), args.server_cpus, work / "x.log", env
        )
        try:
            body, etag = fetch(first.url(args.path))
        finally:
            first.stop()
        (work / "body").write_bytes(body)
        (work / "etag").write_text(etag)
        env |= {"CEILING_BODY": str(work / "body"), "CEILING_ETAG": str(work / "etag")}
        for _ in range(args.rounds):
            for server in available():
                for app in ("aggregator", "asgi"):
                    running = Server(command(server, app), args.server_cpus, work / "server.log", env)
                    try:
                        # The ETag covers the feed's self link, and so the port: ask this server for it.
                        tag_here = fetch(running.url(args.path))[1] if app == "aggregator" else etag
                        for status in ("200", "304"):
                            tag = tag_here if status == "304" else None
                            rate, _ = wrk(
                                running.url(args.path), args.client_cpus, args.seconds, args.connections, tag
                            )
                            results.setdefault((server, app, status), []).append(rate)
                    finally:
                        running.stop()
    rows = []
    for server in available():
        for status in ("200", "304"):
            ours = median(results[(server, "aggregator", status)])
            bare = median(results[(server, "asgi", status)])
            rows.append([server, status, f"{ours:.0f}", f"{bare:.0f}", f"{ours / bare:.2f}x"])
    print()
    print_table(["server", "status", "ours req/s", "bare ASGI req/s", "ours / ASGI"], rows)
    print(load_note(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
