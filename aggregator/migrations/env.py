"""Alembic's environment: runs the revisions on the connection ``run`` hands over.

``run.alembic_config`` puts an open connection, already in a transaction, in
``config.attributes["connection"]``; the revisions run in that transaction. SQLite gets
batch mode, so a revision's ``op.batch_alter_table`` rebuilds a table where SQLite cannot alter it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from aggregator import models  # noqa: F401  (the head schema, for autogenerate)


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run the migrations with `aggregator db upgrade` (aggregator.migrations.run)")
run_migrations(connection)
