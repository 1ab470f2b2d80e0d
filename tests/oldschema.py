"""A database as the last release before schema migrations left it, made from today's models."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from aggregator.migrations.baseline import baseline_metadata


def drop_later_schema(conn: Connection) -> None:
    """Drop what revisions after the baseline added: their tables, and their columns of older tables."""
    baseline = baseline_metadata().tables
    for table in set(SQLModel.metadata.tables) - set(baseline):
        conn.execute(text(f"DROP TABLE {table}"))
    for name, table in baseline.items():
        for column in set(SQLModel.metadata.tables[name].columns.keys()) - set(table.columns.keys()):
            conn.execute(text(f"ALTER TABLE {name} DROP COLUMN {column}"))
