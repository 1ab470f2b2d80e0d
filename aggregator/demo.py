"""``aggregator demo``: the offline demo. Serve the bundled snapshots on 127.0.0.1, poll them
through the real poller, then serve the republished feeds and print URLs to try."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shlex
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from .config import Config, load_config
from .db import make_engine
from .errors import ConfigError
from .poller import Poller, SourceOutcome
from .store.common import transaction
from .store.slices import source_rows
from .store.sources import move_sources

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


@dataclass(frozen=True)
class DemoOptions:
    """What ``aggregator demo`` was asked: its configuration, database and ports."""

    config: Path | None = None  # None: feeds/demo.toml
    db: str | None = None  # None: $AGGREGATOR_DB, else sqlite:///aggregator-demo.db
    host: str = "127.0.0.1"
    port: int = 8000
    samples_port: int = DEFAULT_SAMPLES_PORT
    serve: bool = True  # False: ingest and exit


class OutcomePrinter(Protocol):
    """Shows each source's outcome as the poll goes, then ends its progress line."""

    def __call__(self, outcome: SourceOutcome) -> None: ...
    def finish(self) -> None: ...


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


def sample_moves(known: Iterable[str], config: Config) -> dict[str, str]:
    """Known sample URLs on another loopback port -> the configured URL with the same path.

    Samples served on a new ``--samples-port`` are the same sources moved, not new ones.
    """
    wanted = {}
    for source in config.sources:
        parts = urlsplit(source.url)
        if parts.hostname == "127.0.0.1":
            wanted[(parts.path, parts.query)] = source.url
    moves: dict[str, str] = {}
    for url in known:
        parts = urlsplit(url)
        target = wanted.get((parts.path, parts.query))
        if parts.hostname == "127.0.0.1" and target and url != target and target not in moves.values():
            moves[url] = target
    return moves


def relative_to_cwd(path: Path) -> Path:
    """``path`` relative to the working directory when it is under it, else absolute."""
    path = path.resolve()
    with contextlib.suppress(ValueError):
        return path.relative_to(Path.cwd())
    return path


def next_commands(program: str, config_file: Path, db: str) -> list[str]:
    """The README's next commands, pointed at the demo's config and database."""
    prefix = [program, "--config", str(relative_to_cwd(config_file)), "--db", db]
    tails = (["sources"], ["items", "--tag", "k8s", "--min-bookmarks", "50"], ["serve"])
    return [shlex.join(prefix + tail) for tail in tails]


def program_name() -> str:
    """How this command was invoked (``.venv/bin/aggregator``), or plain ``aggregator``."""
    invoked = sys.argv[0] if sys.argv else ""
    if Path(invoked).name != "aggregator":
        return "aggregator"
    return str(relative_to_cwd(Path(invoked).absolute()))


def run_demo(options: DemoOptions, printer: OutcomePrinter) -> int:
    """Serve the samples, poll them into the demo database, print what to try, then serve."""
    config_file = options.config or DEMO_CONFIG
    config = samples_on_port(load_config(config_file), options.samples_port)
    db = options.db or os.environ.get("AGGREGATOR_DB") or DEMO_DB
    try:
        samples = start_sample_server(options.samples_port)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve the samples on 127.0.0.1:{options.samples_port}: {exc} "
            "(choose another port with --samples-port)"
        ) from exc
    engine = make_engine(db)
    with transaction(engine) as conn:
        move_sources(conn, sample_moves((v.url for v in source_rows(conn)), config))
    print(
        f"1. ingesting the bundled snapshots ({SAMPLES}) "
        f"from http://127.0.0.1:{options.samples_port}/ into {db}"
    )
    try:
        report = asyncio.run(Poller(engine, config, on_outcome=printer).run_once(force=True))
        printer.finish()
        print("   " + report.summary())
    finally:
        samples.shutdown()
        samples.server_close()
    commands = next_commands(program_name(), config_file, db)
    print(f"\n   The demo keeps its data in {db} (the default database is untouched);")
    print("   the README's commands read it when given the demo's configuration and database:")
    for command in commands:
        print(f"     {command}")
    if not options.serve:
        return 0
    base = f"http://{options.host}:{options.port}"
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

    # In this process, with the config as moved to the samples' port: one user, one server process.
    serve(engine, config, host=options.host, port=options.port, server="uvicorn")
    return 0
