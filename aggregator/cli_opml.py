"""``aggregator import-opml`` and ``export-opml``: subscriptions in and out as OPML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .clock import utcnow
from .config import database_url
from .db import make_engine
from .errors import ConfigError
from .store.common import connect, transaction


def add_opml_commands(sub: Any) -> None:
    imp = sub.add_parser("import-opml", help="add the subscriptions of an OPML file")
    imp.add_argument("file", type=Path)
    imp.set_defaults(func=cmd_import_opml)
    exp = sub.add_parser("export-opml", help="write every public source as OPML (private ones stay out)")
    exp.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    exp.set_defaults(func=cmd_export_opml)


def cmd_import_opml(args: argparse.Namespace) -> int:
    from .opml import read_opml
    from .store.sources import add_sources

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{args.file}: cannot read: {exc}") from exc
    sources = read_opml(data, str(args.file))
    engine = make_engine(database_url(args.db))
    with transaction(engine) as conn:
        added = add_sources(conn, sources, "opml", utcnow())
    print(
        f"{len(sources)} subscriptions in {args.file}: {len(added)} added, {len(sources) - len(added)} known"
    )
    return 0


def cmd_export_opml(args: argparse.Namespace) -> int:
    from .opml import write_opml
    from .store.slices import source_rows

    engine = make_engine(database_url(args.db))
    with connect(engine) as conn:
        views = [v for v in source_rows(conn) if v.enabled]
    data = write_opml(
        ((v.url, v.label, v.kind, v.tags) for v in views),
        title="aggregator subscriptions",
        now=utcnow(),
    )
    if args.output:
        args.output.write_bytes(data)
        print(f"{len(views)} sources written to {args.output}")
    else:
        sys.stdout.write(data.decode("utf-8"))
    return 0
