"""WebSub delivery latency: from the end of a poll to the subscriber receiving the POST.

One RSS source and one subscriber's callback on a local HTTP server (127.0.0.1); one
subscription (verified by the hub's worker, as in production) to ``/feeds/all.atom``.
Each run adds an item to the source and runs ``Poller.run_once`` as ``aggregator poll``
does; the poll's end is the moment its one source outcome is recorded (the write
committed), and the latency is the time from there until the callback has the POST: the
run lock released, the hub's check for subscribers, the topic rendered, the request.

    python bench/websub_latency.py                      # 20 runs, SQLite and PostgreSQL
    python bench/websub_latency.py --runs 50 --db sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from _common import (
    add_db_arguments,
    banner,
    dispose,
    median,
    percentile,
    print_table,
    scratch_database,
    selected_kinds,
)

from aggregator.clock import utcnow
from aggregator.config import parse_config
from aggregator.db import make_engine
from aggregator.poller import Poller
from aggregator.store.common import transaction
from aggregator.store.websub import request_intent
from aggregator.websub import Hub


class Site:
    """The source feed (grows by one item per run) and the subscriber (records when each POST came)."""

    def __init__(self) -> None:
        self.items = 1
        self.received: list[float] = []
        self.arrived = threading.Condition()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/callback":
                    body = parse_qs(parts.query)["hub.challenge"][0].encode()
                else:
                    body = site.feed()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                with site.arrived:
                    site.received.append(time.perf_counter())
                    site.arrived.notify_all()
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def feed(self) -> bytes:
        items = "".join(
            f"<item><title>Item {n}</title><link>https://news.example/{n}</link>"
            f"<pubDate>Mon, 05 Feb 2024 10:{n % 60:02d}:00 GMT</pubDate></item>"
            for n in range(self.items)
        )
        return (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
            f"<link>https://news.example/</link><description>d</description>{items}</channel></rss>"
        ).encode()

    def wait_for(self, count: int, timeout: float = 30.0) -> float:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout):
                raise SystemExit("the subscriber never received the delivery")
            return self.received[count - 1]


def measure(url: str, runs: int) -> list[float]:
    site = Site()
    config = parse_config(
        {
            "sources": [{"url": site.base + "/feed.xml"}],
            "poller": {"allow_private_networks": True, "parse_workers": 0},
            "websub": {"allow_private_networks": True},
        }
    )
    engine = make_engine(url)
    try:
        topic = "https://feeds.example/feeds/all.atom"
        polled: list[float] = []
        poller = Poller(engine, config, on_outcome=lambda _outcome: polled.append(time.perf_counter()))
        asyncio.run(poller.run_once(force=True))
        etag = Hub(engine, config).render(topic, utcnow())
        with transaction(engine) as conn:
            request_intent(
                conn,
                "subscribe",
                topic,
                site.base + "/callback",
                secret="bench",
                lease_seconds=86400,
                etag=etag.etag if etag else None,
                now=utcnow(),
            )
        asyncio.run(Hub(engine, config).run_once())  # the verification
        latencies = []
        for run in range(1, runs + 1):
            site.items += 1
            asyncio.run(poller.run_once(force=True))
            latencies.append(site.wait_for(run) - polled[-1])
        return latencies
    finally:
        site.server.shutdown()
        dispose(engine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=20, help="polls that each deliver one change (default 20)"
    )
    add_db_arguments(parser)
    args = parser.parse_args()
    kinds = selected_kinds(args.db)
    banner("WebSub delivery latency, end of poll to POST received", kinds, args.pg_url)
    rows = []
    for kind in kinds:
        with scratch_database(kind, args.pg_url) as url:
            ms = [s * 1000 for s in measure(url, args.runs)]
        rows.append((kind, len(ms), median(ms), percentile(ms, 90), max(ms)))
    print_table(("database", "runs", "median ms", "p90 ms", "max ms"), rows)


if __name__ == "__main__":
    main()
