"""Alembic, configured in code (no alembic.ini): upgrade a database to the head, name its revision.

Every change happens in one transaction that holds the schema lock (``lock_schema``); on
SQLite the transaction is a real ``BEGIN IMMEDIATE``, so a failed revision leaves the
database as it was, and foreign keys are checked at the end rather than during table rebuilds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection, Engine

from ..errors import SchemaVersionError, StorageError
from ..store.common import wrap_storage_errors
from . import HEAD, SchemaState, lock_schema, read_state
from .adopt import Adoption, adopt, apply_rules

SCRIPTS = Path(__file__).resolve().parent
Standing = Literal["head", "behind", "unknown", "unversioned", "empty"]


@dataclass(frozen=True)
class Upgrade:
    """What ``upgrade`` did: the state before, the revision after, the adoption if there was one."""

    before: SchemaState
    after: str
    adoption: Adoption | None = None


def alembic_config(conn: Connection | None = None) -> Config:
    """Alembic's configuration for our revisions; ``conn`` is where ``env.py`` runs them."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = conn
    return config


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def standing(state: SchemaState) -> Standing:
    """Where ``state`` stands against the revisions this release ships."""
    if state.revision is None:
        return "unversioned" if state.has_tables else "empty"
    if state.revision == HEAD:
        return "head"
    known = {script.revision for script in script_directory().walk_revisions()}
    return "behind" if state.revision in known else "unknown"


@wrap_storage_errors()
def current(engine: Engine) -> tuple[SchemaState, Standing]:
    """The database's revision and where it stands."""
    with engine.connect() as conn:
        state = read_state(conn)
    return state, standing(state)


@wrap_storage_errors()
def upgrade(engine: Engine) -> Upgrade:
    """Bring the database to the head: create it, adopt it (made before migrations), or upgrade it.

    Raises:
        SchemaVersionError: it is at a revision this release does not know (a newer release
            upgraded it), or it cannot be adopted.
        StorageError: the database failed; nothing was changed.
    """
    with migration_transaction(engine) as conn:
        before = read_state(conn)
        if standing(before) == "unknown":
            raise SchemaVersionError(
                f"the database is at schema revision {before.revision}, which this release does not know "
                f"(its newest is {HEAD}): a newer release upgraded it; run that release"
            )
        adoption = adopt(conn) if before.revision is None and before.has_tables else None
        try:
            command.upgrade(alembic_config(conn), "head")
        except CommandError as exc:
            raise SchemaVersionError(f"cannot upgrade the database: {exc}") from exc
        if adoption is not None:
            apply_rules(conn, adoption)
        after = read_state(conn).revision
    assert after is not None
    return Upgrade(before, after, adoption)


@contextmanager
def migration_transaction(engine: Engine) -> Iterator[Connection]:
    """One connection in one transaction for a schema change, under the schema lock."""
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                lock_schema(conn)
                yield conn
            return
        # pysqlite would commit before each DDL statement: the driver in autocommit mode, and our
        # own BEGIN; SQLAlchemy's commit and rollback reach the driver, which ends it.
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.commit()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise StorageError(f"the upgrade would break foreign keys: {broken[:3]}")
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()
