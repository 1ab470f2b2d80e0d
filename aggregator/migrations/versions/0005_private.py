"""Private sources and outputs: ``source.private``, ``item_tag.public`` and the ``access_token`` table.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN on both databases: a NOT NULL column with a default is allowed.
    op.add_column("source", sa.Column("private", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("item_tag", sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "access_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("output", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_access_token_output", "access_token", ["output"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_access_token_output", table_name="access_token")
    op.drop_table("access_token")
    with op.batch_alter_table("item_tag") as item_tag:
        item_tag.drop_column("public")
    with op.batch_alter_table("source") as source:
        source.drop_column("private")
