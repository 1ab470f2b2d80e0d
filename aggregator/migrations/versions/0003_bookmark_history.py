"""Bookmark history: an item's count as each source reported it, over time.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "bookmark_point",
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", "source_id", "at"),
    )
    op.create_index("ix_bookmark_point_at", "bookmark_point", ["at", "item_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_bookmark_point_at", table_name="bookmark_point")
    op.drop_table("bookmark_point")
