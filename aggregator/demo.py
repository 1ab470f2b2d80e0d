"""``aggregator demo``: the offline demo. Serve the bundled snapshots on 127.0.0.1, poll them
through the real poller, then serve the republished feeds and print URLs to try."""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import threading
from dataclasses import replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .cli import OutcomePrinter
from .config import Config, load_config
from .db import make_engine
from .errors import ConfigError
from .poller import Poller

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "feeds" / "samples"
DEMO_CONFIG = ROOT / "feeds" / "demo.toml"
DEFAULT_SAMPLES_PORT = 8001
DEMO_DB = "sqlite:///aggregator-demo.db"
TYPES = {
    ".rdf": "application/rdf+xml",
    ".rss": "application/rss+xml",
    ".json": "application/feed+json",
    ".xml": "text/html",
    ".atom": "application/atom+xml",
}


class SampleHandler(SimpleHTTPRequestHandler):
    """Static files with feed media types and validators; quiet."""

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        return TYPES.get(Path(path).suffix, "application/octet-stream") + "; charset=utf-8"

    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_sample_server(port: int, directory: Path = SAMPLES) -> ThreadingHTTPServer:
    """Serve ``directory`` on 127.0.0.1:``port`` in a daemon thread."""
    handler = functools.partial(SampleHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, name="samples", daemon=True).start()
    return server


def samples_on_port(config: Config, port: int) -> Config:
    """Point the demo's sample sources at the port the samples are actually served on."""
    default = f"http://127.0.0.1:{DEFAULT_SAMPLES_PORT}/"
    moved = tuple(
        replace(s, url=f"http://127.0.0.1:{port}/" + s.url[len(default) :])
        if s.url.startswith(default)
        else s
        for s in config.sources
    )
    return replace(config, sources=moved)


def run_demo(args: argparse.Namespace) -> int:
    config_file = Path(args.config) if args.config else DEMO_CONFIG
    config = samples_on_port(load_config(config_file), args.samples_port)
    db = args.db or os.environ.get("AGGREGATOR_DB") or DEMO_DB
    try:
        samples = start_sample_server(args.samples_port)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve the samples on 127.0.0.1:{args.samples_port}: {exc} "
            "(choose another port with --samples-port)"
        ) from exc
    engine = make_engine(db)
    print(
        f"1. ingesting the bundled snapshots ({SAMPLES}) from http://127.0.0.1:{args.samples_port}/ into {db}"
    )
    try:
        printer = OutcomePrinter()
        report = asyncio.run(Poller(engine, config, on_outcome=printer).run_once(force=True))
        printer.finish()
        print("   " + report.summary())
    finally:
        samples.shutdown()
        samples.server_close()
    if args.no_serve:
        return 0
    base = f"http://{args.host}:{args.port}"
    print(f"\n2. serving on {base}/  — try:")
    for path in (
        "/",
        "/feeds/tag/kubernetes.atom",
        "/feeds/tag/k8s.rss",
        "/feeds/golang-not-docker.atom",
        "/feeds/site/deeeet.com.json?min_bookmarks=250",
        "/feeds/k8s-popular.atom",
        "/tag/kubernetes",
        "/site/deeeet.com",
        "/api/sources",
        "/docs",
    ):
        print(f"   {base}{path}")
    print("   Ctrl-C stops.\n", flush=True)
    from .api import serve

    serve(engine, config, host=args.host, port=args.port)
    return 0
