"""The ``aggregator`` command: poll, sources, items, OPML import/export, serve, demo, push, db, token.

Exit status: 0 when the command ran (a poll whose sources failed still ran),
2 for a bad configuration or bad arguments, or a database that needs ``aggregator db
upgrade``, 1 when the database is unreachable, 3 for ``poll --fail-on-error`` when a
source failed in that run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cli_db import add_db_commands
from .cli_observe import PollObservers, add_log_argument, add_metrics_arguments, setup_logging
from .cli_opml import add_opml_commands
from .cli_push import add_push_command
from .cli_token import add_token_commands
from .clock import utcnow
from .config import Config, config_path, database_url, load_config
from .db import make_engine
from .errors import ConfigError, FilterError, QueryError, SchemaVersionError, StorageError
from .filters import VOCABULARY, parse_filter
from .logformat import redact
from .store.common import connect

# What one command alone needs is imported inside that command, so `aggregator poll` loads no
# web framework, renderer, page, OPML, demo or slice-query module (tests/test_startup.py).
if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .poller import Poller, SourceOutcome

log = logging.getLogger("aggregator")

EXIT_SOURCES_FAILED = 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "loop", False) and getattr(args, "fail_on_error", False):
        parser.error("--fail-on-error applies to a single run, not to --loop")
    try:
        setup_logging(args)
        return int(args.func(args))
    except ConfigError as exc:
        print(f"aggregator: configuration error: {exc}", file=sys.stderr)
        return 2
    except FilterError as exc:
        print(f"aggregator: bad filter: {exc.reason} (at character {exc.position})", file=sys.stderr)
        print(exc.caret(), file=sys.stderr)
        return 2
    except QueryError as exc:
        print(f"aggregator: bad parameter {exc.param}: {exc.message}", file=sys.stderr)
        return 2
    except SchemaVersionError as exc:
        print(f"aggregator: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"aggregator: storage error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aggregator", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="feeds.toml (default: $AGGREGATOR_CONFIG or feeds/feeds.toml)")
    parser.add_argument("--db", help="database URL (default: $AGGREGATOR_DB or sqlite:///aggregator.db)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    add_log_argument(parser)
    sub = parser.add_subparsers(dest="command", required=True)

    poll = sub.add_parser("poll", help="poll the sources that are due (for cron)")
    poll.add_argument("--force", action="store_true", help="poll every source now")
    poll.add_argument("--loop", action="store_true", help="keep polling as sources come due (daemon)")
    poll.add_argument("--quiet", action="store_true", help="print only the summary and errors")
    poll.add_argument(
        "--fail-on-error",
        action="store_true",
        help=f"exit {EXIT_SOURCES_FAILED} when a source failed in this run (default: 0 once it completed)",
    )
    add_metrics_arguments(poll)
    poll.set_defaults(func=cmd_poll)

    sources = sub.add_parser("sources", help="list sources with their health")
    sources.add_argument("--json", action="store_true")
    sources.set_defaults(func=cmd_sources)

    items = sub.add_parser("items", help="list items matching filters (same vocabulary as the feeds)")
    items.add_argument("filter", nargs="?", metavar="QUERY", help="a filter query: 'tag:k8s -tag:helm'")
    for param in (p for p in VOCABULARY if p.name != "filter"):
        flag = "--" + param.name.replace("_", "-")
        metavar = param.kind.upper()
        if param.repeatable:
            items.add_argument(
                flag, action="append", default=[], metavar=metavar, help=param.help + " (repeatable)"
            )
        else:
            items.add_argument(flag, metavar=metavar, help=param.help)
    items.add_argument("--json", action="store_true")
    items.set_defaults(func=cmd_items)

    add_opml_commands(sub)

    serve = sub.add_parser("serve", help="serve the republished feeds over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=_workers, default=1, help="server processes (default 1)")
    serve.add_argument("--server", choices=("granian", "uvicorn"), default="granian", help="HTTP server")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="offline demo: ingest the bundled samples, then serve")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--samples-port", type=int)
    demo.add_argument("--no-serve", action="store_true", help="ingest and exit")
    demo.set_defaults(func=cmd_demo)
    add_push_command(sub)
    add_db_commands(sub)
    add_token_commands(sub)
    return parser


def open_config(args: argparse.Namespace) -> Config:
    return load_config(config_path(args.config))


def open_engine(args: argparse.Namespace) -> Engine:
    return make_engine(database_url(args.db))


# -- poll ---------------------------------------------------------------------------------------


def cmd_poll(args: argparse.Namespace) -> int:
    from .poller import Poller

    config = open_config(args)
    engine = open_engine(args)
    printer = OutcomePrinter(quiet=args.quiet)
    observers = PollObservers(args, printer)
    poller = Poller(engine, config, on_outcome=observers)
    if args.loop:
        observers.start()
        try:
            return asyncio.run(_loop(poller))
        finally:
            observers.finish()
    report = asyncio.run(poller.run_once(force=args.force))
    printer.finish()
    observers.finish(report)
    print(report.summary())
    if args.fail_on_error and report.failed:
        return EXIT_SOURCES_FAILED
    return 0


async def _loop(poller: Poller) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("polling as sources come due; SIGTERM or Ctrl-C stops", flush=True)
    reports = await poller.run_loop(stop)
    print(f"stopped after {len(reports)} passes", flush=True)
    return 0


class OutcomePrinter:
    """One line per source; a progress line on a terminal."""

    def __init__(self, *, quiet: bool = False, stream: Any = None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
        self.done = 0

    def __call__(self, outcome: SourceOutcome) -> None:
        self.done += 1
        if self.tty:
            print("\r\x1b[K", end="", file=sys.stderr)
        if not self.quiet or outcome.failed:
            print(redact(outcome.line()), file=self.stream, flush=True)  # a label may be a URL
        if self.tty:
            label = redact(outcome.label)[:50]
            print(f"[{self.done} sources done] {label}", end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.tty and self.done:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)


# -- sources / items ----------------------------------------------------------------------------


def cmd_sources(args: argparse.Namespace) -> int:
    from .store.slices import source_rows
    from .views import PRIVATE

    engine = open_engine(args)
    with connect(engine) as conn:
        views = source_rows(conn, audience=PRIVATE)  # the operator's own list: private sources too
    if args.json:
        print(json.dumps([_jsonable(asdict(v)) for v in views], ensure_ascii=False, indent=2))
        return 0
    if not views:
        print("no sources yet: run `aggregator poll` (sources come from feeds.toml)")
    removed = [v for v in views if v.removed]
    for v in views:
        if v.removed:
            continue
        state = "gone (410)" if v.gone else v.last_status or "never polled"
        nxt = v.next_poll_at.strftime("%Y-%m-%d %H:%M") if v.next_poll_at else "-"
        print(f"[{v.id}] {v.label}  ({v.kind}{', private' if v.private else ''})")
        print(f"     {v.url}")
        print(f"     items {v.items}  status {state}  next poll {nxt}")
        if v.last_error:
            print(f"     last error [{v.error_category}] {v.last_error}  ({v.consecutive_errors} in a row)")
        if v.last_warning:
            print(f"     warning: {v.last_warning}")
    if removed:
        print(f"\n{len(removed)} removed from the configuration (never polled again; their items are kept):")
    for v in removed:
        print(f"[{v.id}] {v.label}  ({v.kind})  items {v.items}")
        print(f"     {v.url}")
    return 0


def cmd_items(args: argparse.Namespace) -> int:
    from .store.slices import select_slice
    from .views import PRIVATE

    config = open_config(args)
    given = {param.name: getattr(args, param.name) for param in VOCABULARY}
    params = {name: value for name, value in given.items() if value not in (None, [])}
    flt = parse_filter(params, aliases=config.aliases, now=utcnow())
    engine = open_engine(args)
    with connect(engine) as conn:
        items = select_slice(conn, flt, audience=PRIVATE)
    if args.json:
        print(json.dumps([_jsonable(i.__dict__) for i in items], ensure_ascii=False, indent=2, default=str))
        return 0
    for item in items:
        count = f" [{item.bookmark_count} users]" if item.bookmark_count is not None else ""
        print(f"{item.published.astimezone(config.server.zone):%Y-%m-%d}  {item.title}{count}")
        print(f"            {item.link or item.key}")
        if item.tags:
            print(f"            tags: {', '.join(item.tags)}")
    print(f"{len(items)} items ({flt.describe()})")
    return 0


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


# -- serve / demo -------------------------------------------------------------------------------


def _workers(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise argparse.ArgumentTypeError("a number of processes from 1 to 64")
    return int(value)


def cmd_serve(args: argparse.Namespace) -> int:
    from .api import serve

    config = open_config(args)
    engine = open_engine(args)
    # Each server process opens the same config and database.
    os.environ["AGGREGATOR_CONFIG"] = str(config_path(args.config).resolve())
    os.environ["AGGREGATOR_DB"] = database_url(args.db)
    serve(engine, config, host=args.host, port=args.port, workers=args.workers, server=args.server)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import DEFAULT_SAMPLES_PORT, DemoOptions, run_demo

    options = DemoOptions(
        config=Path(args.config) if args.config else None,
        db=args.db,
        host=args.host,
        port=args.port,
        samples_port=DEFAULT_SAMPLES_PORT if args.samples_port is None else args.samples_port,
        serve=not args.no_serve,
    )
    return run_demo(options, OutcomePrinter())


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
