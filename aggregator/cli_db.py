"""``aggregator db``: the schema's revision (``current``), ``upgrade`` to this release's
schema, and ``copy`` of a whole database into another (SQLite into PostgreSQL).

``copy`` refuses a target that has rows, unless ``--replace`` empties it first (in the
same transaction as the copy: the target ends with the source's rows or unchanged).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from .config import database_url
from .db import make_engine, normalize_url
from .errors import SchemaVersionError
from .store.common import connect, transaction

# Alembic is loaded by the db commands only: opening a database does not need it.
if TYPE_CHECKING:
    from .migrations.run import Upgrade

EXIT_REFUSED = 2


def add_db_commands(sub: Any) -> None:
    """The ``db`` command and its subcommands, on the CLI's subparsers."""
    db = sub.add_parser("db", help="the database schema: current revision, upgrade, copy")
    commands = db.add_subparsers(dest="db_command", required=True)
    current = commands.add_parser("current", help="print the schema revision and whether it is the head")
    current.set_defaults(func=cmd_current)
    upgrade = commands.add_parser("upgrade", help="bring the database to this release's schema (in place)")
    upgrade.set_defaults(func=cmd_upgrade)
    copy = commands.add_parser("copy", help="copy every row into another database (SQLite into PostgreSQL)")
    copy.add_argument("--from", dest="source", required=True, metavar="URL", help="database to read")
    copy.add_argument("--to", dest="target", required=True, metavar="URL", help="database to write")
    copy.add_argument(
        "--replace", action="store_true", help="empty the target's tables first (default: refuse rows there)"
    )
    copy.add_argument("--batch", type=int, default=1000, metavar="ROWS", help="rows per insert (1000)")
    copy.set_defaults(func=cmd_copy)


def shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def cmd_current(args: argparse.Namespace) -> int:
    from .migrations import HEAD
    from .migrations.run import current

    engine = make_engine(database_url(args.db), create=False)
    state, standing = current(engine)
    advice = {
        "head": "at head",
        "behind": f"behind (head is {HEAD}): run `aggregator db upgrade`",
        "unknown": f"unknown to this release (its head is {HEAD}): a newer release upgraded it",
        "unversioned": "unversioned, made before schema migrations: run `aggregator db upgrade`",
        "empty": f"empty: any command creates it at head ({HEAD})",
    }[standing]
    print(f"{shown(engine)}: {state.revision or '-'} {advice}")
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    from .migrations.run import upgrade

    engine = make_engine(database_url(args.db), create=False)
    done = upgrade(engine)
    print(f"{shown(engine)}: {describe_upgrade(done)}")
    return 0


def describe_upgrade(done: Upgrade) -> str:
    """``0001 -> 0002``, what adopting changed, or that nothing needed doing."""
    before = done.before.revision or ("unversioned" if done.before.has_tables else "empty")
    if done.before.revision == done.after and done.adoption is None:
        return f"{before}, already at head"
    line = f"{before} -> {done.after}"
    if done.adoption is not None:
        changed = [*done.adoption.added, *(f"dropped {d}" for d in done.adoption.dropped)]
        changed += [f"{rule} rule applied" for rule in done.adoption.rules]
        line += f" (adopted: {', '.join(changed) or 'nothing to add'})"
    return line


def cmd_copy(args: argparse.Namespace) -> int:
    from .migrations.run import current, upgrade
    from .store.copy import copied_tables, copy_table, count_rows, empty_tables, reset_counters

    if normalize_url(args.source) == normalize_url(args.target):
        print("aggregator: --from and --to name the same database", file=sys.stderr)
        return EXIT_REFUSED
    source = make_engine(args.source, create=False)
    target = make_engine(args.target, create=False)
    state, standing = current(source)
    if standing != "head":
        raise SchemaVersionError(
            f"the source database {shown(source)} is not at this release's schema ({state.describe()}): "
            "run `aggregator --db URL db upgrade` on it first"
        )
    print(f"{shown(target)}: {describe_upgrade(upgrade(target))}")
    with connect(source) as src, transaction(target) as dst:
        present = {name: n for name, n in count_rows(dst).items() if n}
        if present and not args.replace:
            rows = ", ".join(f"{name} {n}" for name, n in present.items())
            print(
                f"aggregator: {shown(target)} has rows ({rows}): copy into an empty database, "
                "or pass --replace to delete them first",
                file=sys.stderr,
            )
            return EXIT_REFUSED
        if present:
            empty_tables(dst)
        for table in copied_tables():
            print(f"{table.name}: {copy_table(src, dst, table, args.batch)} rows", flush=True)
        following = reset_counters(dst)
    print("copied; next ids: " + ", ".join(f"{name} {n}" for name, n in following.items()))
    return 0
