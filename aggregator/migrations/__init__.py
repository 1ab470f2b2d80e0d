"""Schema versions: which revision a database is at, and a new database made at the head.

Alembic runs the revisions in ``versions/`` (``run``: upgrade, adopt a database made before
migrations); this module only reads the ``alembic_version`` table and stamps a new database,
without importing Alembic, so opening a database stays cheap. ``HEAD`` names the newest
revision; ``tests/test_migrations.py`` checks it against Alembic's own reading of ``versions/``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, func, inspect, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from .. import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from ..errors import SchemaVersionError
from .baseline import baseline_metadata

HEAD = "0006"
VERSION_TABLE_NAME = "alembic_version"
# Alembic's own version table, as Alembic creates it (alembic.ddl.impl.DefaultImpl.version_table_impl).
VERSION_TABLE = Table(
    VERSION_TABLE_NAME,
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)
# Held while a database is created, adopted or upgraded, so two processes never do it at once.
PG_LOCK_KEY = 0x61676772  # "aggr"


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands: its revision (None: unversioned), and whether it has our tables."""

    revision: str | None
    has_tables: bool

    @property
    def is_empty(self) -> bool:
        return self.revision is None and not self.has_tables

    @property
    def is_head(self) -> bool:
        return self.revision == HEAD

    def describe(self) -> str:
        if self.is_head:
            return f"{self.revision} (head)"
        if self.revision is not None:
            return f"{self.revision} (not the head, {HEAD}: behind, or made by a newer release)"
        if self.has_tables:
            return "unversioned (made before schema migrations)"
        return "empty (no tables yet)"


def read_state(conn: Connection) -> SchemaState:
    """The schema state of the database behind ``conn``."""
    names = set(inspect(conn).get_table_names())
    ours = bool(names & (set(SQLModel.metadata.tables) | set(baseline_metadata().tables)))
    if VERSION_TABLE_NAME not in names:
        return SchemaState(None, ours)
    revisions = list(conn.execute(select(VERSION_TABLE.c.version_num)).scalars())
    return SchemaState(revisions[0] if len(revisions) == 1 else ",".join(revisions) or None, ours)


def lock_schema(conn: Connection) -> None:
    """On PostgreSQL, wait for any other process changing the schema (until the transaction ends)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(PG_LOCK_KEY)))


def ensure_head(engine: Engine) -> SchemaState:
    """Create the schema at the head in an empty database; refuse one that is not at the head.

    Raises:
        SchemaVersionError: the database is behind, unversioned with tables, or at a revision
            this release does not know; ``aggregator db upgrade`` is the way forward.
    """
    with engine.connect() as conn:
        state = read_state(conn)
    if state.is_empty:
        with engine.begin() as conn:
            lock_schema(conn)
            state = read_state(conn)
            if state.is_empty:
                create_at_head(conn)
                return SchemaState(HEAD, True)
    if not state.is_head:
        raise SchemaVersionError(refusal(engine, state))
    return state


def create_at_head(conn: Connection) -> None:
    """Create the tables of the models and the text index; record the head revision (an empty database)."""
    from ..store.textindex import install_text_index

    SQLModel.metadata.create_all(conn)
    install_text_index(conn)
    VERSION_TABLE.create(conn, checkfirst=True)
    conn.execute(VERSION_TABLE.delete())
    conn.execute(VERSION_TABLE.insert().values(version_num=HEAD))


def refusal(engine: Engine, state: SchemaState) -> str:
    """Why this release does not use the database, and the command that fixes it."""
    where = engine.url.render_as_string(hide_password=True)
    if state.revision is None:
        why = "was made by a release before schema migrations"
    else:
        why = f"is at schema revision {state.revision}, and this release uses {HEAD}"
    return (
        f"the database {where} {why}: run `aggregator db upgrade` (with the same --db) to upgrade it "
        "in place, nothing is lost; back it up first if you may want to go back"
    )
