"""Helpers shared by the store modules: the error boundary (``wrap_storage_errors``,
``connect``, ``transaction``), dialect-aware upserts, chunking, the data version.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StorageError
from ..models import Meta, Tag, table_of

T = TypeVar("T")
CHUNK = 500
DATA_VERSION = "data_version"


@contextmanager
def wrap_storage_errors() -> Iterator[None]:
    """Database errors inside the block (or the decorated function) leave as ``StorageError``.

    The message is the first line of the driver's error: no SQL, no parameters.

    Raises:
        StorageError: from any ``SQLAlchemyError``.
    """
    try:
        yield
    except SQLAlchemyError as exc:
        raise StorageError(first_line(exc)) from exc


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """A connection for reads; failing to open or use it raises ``StorageError``."""
    with wrap_storage_errors(), engine.connect() as conn:
        yield conn


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction, committed on leaving; any database failure is ``StorageError``."""
    with wrap_storage_errors(), engine.begin() as conn:
        yield conn


def first_line(exc: BaseException) -> str:
    """The first line of a database error's message, for logs and source errors."""
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def insert_for(conn: Connection, table: Table) -> Any:
    """An INSERT that supports ``on_conflict_do_*`` on SQLite and PostgreSQL."""
    # Imported here: the ``postgresql`` dialect package (~50 ms: asyncpg, pg8000 and psycopg
    # dialect modules) stays unloaded when every connection is SQLite, and vice versa.
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


@wrap_storage_errors()
def bump_data_version(conn: Connection) -> None:
    """Every write that changes what a reader sees calls this inside its transaction."""
    table = table_of(Meta)
    result = conn.execute(update(table).where(table.c.key == DATA_VERSION).values(value=table.c.value + 1))
    if result.rowcount == 0:
        stmt = insert_for(conn, table).values(key=DATA_VERSION, value=1)
        conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": table.c.value + 1}))


@wrap_storage_errors()
def read_data_version(conn: Connection) -> int:
    table = table_of(Meta)
    value = conn.execute(select(table.c.value).where(table.c.key == DATA_VERSION)).scalar()
    return int(value or 0)


# source.id is a 32-bit INTEGER on PostgreSQL: no larger id exists
MAX_SOURCE_ID = 2**31 - 1


@wrap_storage_errors()
def tag_ids(conn: Connection, names: set[str]) -> dict[str, int]:
    """The ids of the tags named ``names`` that exist (normalized names)."""
    if not names:
        return {}
    tag = table_of(Tag)
    return {
        str(n): int(i) for i, n in conn.execute(select(tag.c.id, tag.c.name).where(tag.c.name.in_(names)))
    }
