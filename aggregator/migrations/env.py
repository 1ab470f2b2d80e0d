"""Alembic's environment: runs the revisions on the connection ``run`` hands over.

``run.alembic_config`` puts an open connection, already in a transaction, in
``config.attributes["connection"]``; the revisions run in that transaction. SQLite gets
batch mode, so a revision's ``op.batch_alter_table`` rebuilds a table where SQLite cannot alter it.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from aggregator.models import UTCDateTime


def render_item(kind: str, obj: Any, autogen: AutogenContext) -> str | Literal[False]:
    """Our column types as the plain SQLAlchemy types on disk, so revisions import no models."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    if kind == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})"
    return False


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run the migrations with `aggregator db upgrade` (aggregator.migrations.run)")
run_migrations(connection)
