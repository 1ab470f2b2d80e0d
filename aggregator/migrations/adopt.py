"""Bring a database made before migrations under them, at revision 0001, without losing a row.

Such a database has the tables of its release: maybe without the nullable columns added
since (``feed_language``, ``last_warning``, ``page_hash``, ``entry_hash``, ``site_key``),
maybe with the slice indexes of earlier releases, maybe without the one-time data rules
of ``store.rekey`` applied. ``adopt`` adds what is missing (tables, nullable columns,
indexes), drops the indexes the baseline replaced and stamps revision 0001; ``run.upgrade``
goes on to the head in the same transaction, then ``apply_rules`` applies the data rules
that ``meta`` does not record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, inspect
from sqlalchemy.engine import Connection

from ..errors import SchemaVersionError
from ..store.rekey import upgrade_identity, upgrade_site_keys
from . import VERSION_TABLE
from .baseline import REVISION, baseline_metadata

# Indexes of earlier releases that the baseline's (site_key, published) and
# (bookmark_count, published) replaced.
OLD_INDEXES = {"item": ("ix_item_site_published", "ix_item_bookmark_count")}


@dataclass
class Adoption:
    """What adopting a database changed."""

    added: list[str] = field(default_factory=list)  # "table item.page_hash", "index ix_item_page", ...
    dropped: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # the data rules applied now


def adopt(conn: Connection) -> Adoption:
    """Bring the unversioned database behind ``conn`` to revision 0001 (in its transaction).

    Raises:
        SchemaVersionError: it lacks a NOT NULL column, which cannot be added in place.
    """
    done = Adoption()
    inspector = inspect(conn)
    present = set(inspector.get_table_names())
    ops = Operations(MigrationContext.configure(conn))
    for table in baseline_metadata().sorted_tables:
        if table.name not in present:
            table.create(conn)
            done.added.append(f"table {table.name}")
            continue
        for name in OLD_INDEXES.get(table.name, ()):
            if name in {i["name"] for i in inspector.get_indexes(table.name)}:
                ops.drop_index(name, table_name=table.name)
                done.dropped.append(f"index {name}")
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in columns:
                continue
            if not column.nullable:
                raise SchemaVersionError(
                    f"the database lacks {table.name}.{column.name}, which is NOT NULL and cannot be added "
                    "in place: it was not made by an aggregator release"
                )
            ops.add_column(table.name, Column(column.name, column.type, nullable=True))
            done.added.append(f"column {table.name}.{column.name}")
        indexes = {i["name"] for i in inspect(conn).get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(conn)
                done.added.append(f"index {index.name}")
    VERSION_TABLE.create(conn, checkfirst=True)
    conn.execute(VERSION_TABLE.delete())
    conn.execute(VERSION_TABLE.insert().values(version_num=REVISION))
    return done


def apply_rules(conn: Connection, done: Adoption) -> None:
    """Apply the data rules ``meta`` does not record, once the adopted database is at the head:
    they are today's code, which reads and writes today's schema."""
    if upgrade_identity(conn):
        done.rules.append("identity")
    if upgrade_site_keys(conn):
        done.rules.append("site keys")
