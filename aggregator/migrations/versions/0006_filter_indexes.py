"""Indexes for ``filter=`` terms: a sighting's user (``user:``), and on PostgreSQL a trigram index on
the lowered title and author (``intitle:``, ``author:``).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from aggregator.store.textindex import PG_COLUMN_INDEXES, install_text_index

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # If not there yet: a database adopted from before migrations may have been made with it.
    op.create_index("ix_sighting_user", "sighting", ["user", "item_id"], unique=False, if_not_exists=True)
    # Adds what the text index lacks (here, the per-column trigram indexes); SQLite's FTS table is kept.
    install_text_index(op.get_bind())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for name in PG_COLUMN_INDEXES.values():
            bind.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
    op.drop_index("ix_sighting_user", table_name="sighting")
