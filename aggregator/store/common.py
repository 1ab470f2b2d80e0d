"""Helpers shared by the store modules: dialect-aware upserts, chunking, the data version."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ..models import Meta, table_of

T = TypeVar("T")
CHUNK = 500
DATA_VERSION = "data_version"


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def insert_for(conn: Connection, table: Table) -> Any:
    """An INSERT that supports ``on_conflict_do_*`` on SQLite and PostgreSQL."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def bump_data_version(conn: Connection) -> None:
    """Every write that changes what a reader sees calls this inside its transaction."""
    table = table_of(Meta)
    result = conn.execute(update(table).where(table.c.key == DATA_VERSION).values(value=table.c.value + 1))
    if result.rowcount == 0:
        stmt = insert_for(conn, table).values(key=DATA_VERSION, value=1)
        conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": table.c.value + 1}))


def read_data_version(conn: Connection) -> int:
    table = table_of(Meta)
    value = conn.execute(select(table.c.value).where(table.c.key == DATA_VERSION)).scalar()
    return int(value or 0)
