"""The text index behind ``q``: SQLite FTS5 (trigram) with its triggers, a PostgreSQL pg_trgm GIN index.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from aggregator.store.textindex import drop_statements, install_text_index

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Indexes the items already stored. Where the database cannot hold the index (an SQLite
    # without FTS5 trigrams, no pg_trgm), it is left out and ``q`` reads the items instead.
    install_text_index(op.get_bind())


def downgrade() -> None:
    bind = op.get_bind()
    for statement in drop_statements(bind.dialect.name):
        bind.execute(text(statement))
