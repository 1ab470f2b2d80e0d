"""Copy the rows of one database into another, table by table (``aggregator db copy``).

Tables go in dependency order (``SQLModel.metadata.sorted_tables``), rows in primary-key
order and in batches, ids kept as they are; afterwards ``reset_counters`` moves the id
sequences of PostgreSQL past the copied ids, so new rows never collide. ``run_lock`` is
not copied: a lease belongs to a process on the old database, not to the data.
"""

from __future__ import annotations

from sqlalchemy import Integer, Table, delete, func, select
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from .. import models  # noqa: F401  (registers the tables)
from .common import wrap_storage_errors

BATCH = 1000
NOT_COPIED = frozenset({"run_lock"})


def copied_tables() -> list[Table]:
    """The tables ``copy_table`` is meant for, parents before children."""
    return [t for t in SQLModel.metadata.sorted_tables if t.name not in NOT_COPIED]


@wrap_storage_errors()
def count_rows(conn: Connection) -> dict[str, int]:
    """Rows per copied table."""
    count = select(func.count())
    return {t.name: int(conn.execute(count.select_from(t)).scalar_one()) for t in copied_tables()}


@wrap_storage_errors()
def empty_tables(conn: Connection) -> None:
    """Delete every row of every table, children first (in the caller's transaction)."""
    for table in reversed(SQLModel.metadata.sorted_tables):
        conn.execute(delete(table))


@wrap_storage_errors()
def copy_table(conn: Connection, target: Connection, table: Table, batch: int = BATCH) -> int:
    """Insert every row of ``table`` read on ``conn`` into ``target``, ``batch`` rows at a time."""
    rows = conn.execution_options(yield_per=batch).execute(select(table).order_by(*table.primary_key.columns))
    copied = 0
    for part in rows.partitions():
        target.execute(table.insert(), [row._asdict() for row in part])
        copied += len(part)
    return copied


@wrap_storage_errors()
def reset_counters(conn: Connection) -> dict[str, int]:
    """The next id of each table with an integer id; on PostgreSQL its sequence is set to it."""
    following: dict[str, int] = {}
    for table in SQLModel.metadata.sorted_tables:
        key = list(table.primary_key.columns)
        if len(key) != 1 or not isinstance(key[0].type, Integer) or table.name in NOT_COPIED:
            continue
        column = key[0]
        following[table.name] = int(conn.execute(select(func.coalesce(func.max(column), 0))).scalar_one()) + 1
        if conn.dialect.name == "postgresql":
            sequence = conn.execute(select(func.pg_get_serial_sequence(table.name, column.name))).scalar()
            if sequence:
                conn.execute(select(func.setval(sequence, following[table.name], False)))
    return following
