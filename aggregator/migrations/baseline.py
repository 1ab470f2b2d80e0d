"""The schema of revision 0001, frozen: what ``SQLModel.metadata.create_all`` made before
migrations existed (tables, columns, indexes; ``item.site_key`` in the C collation on
PostgreSQL).

Revision 0001 creates it; ``adopt`` brings a database made before migrations to it. It never
changes: later schema changes are later revisions, and ``models`` describes the head.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

REVISION = "0001"
ID = BigInteger().with_variant(Integer(), "sqlite")
SITE_KEY = String(256).with_variant(String(256, collation="C"), "postgresql")


def _when(name: str, nullable: bool = True) -> Column[object]:
    return Column(name, DateTime(), nullable=nullable)


def baseline_metadata() -> MetaData:
    """A new ``MetaData`` holding the revision-0001 tables."""
    metadata = MetaData()
    Table(
        "source", metadata,
        Column("id", Integer(), primary_key=True),
        Column("url", String(2048), nullable=False, unique=True),
        Column("kind", String(16), nullable=False),
        Column("title", Text(), nullable=False),
        Column("feed_title", Text()),
        Column("feed_link", Text()),
        Column("feed_language", String(35)),
        Column("tags", JSON(), nullable=False),
        Column("interval_seconds", Integer()),
        Column("allow_private", Boolean()),
        Column("origin", String(16), nullable=False),
        Column("enabled", Boolean(), nullable=False),
        Column("gone", Boolean(), nullable=False),
        Column("etag", Text()),
        Column("last_modified", Text()),
        Column("body_hash", String(64)),
        Column("last_status", String(16)),
        Column("last_http_status", Integer()),
        Column("last_error", Text()),
        Column("error_category", String(16)),
        _when("last_error_at"),
        Column("last_warning", Text()),
        Column("consecutive_errors", Integer(), nullable=False),
        _when("last_polled_at"),
        _when("last_success_at"),
        _when("next_poll_at"),
        Column("redirect_url", Text()),
        Column("redirect_count", Integer(), nullable=False),
        Column("lease_owner", String(64)),
        _when("lease_expires"),
        _when("created_at"),
        Index("ix_source_next_poll_at", "next_poll_at"),
    )  # fmt: skip
    Table(
        "item", metadata,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("key_hash", String(64), nullable=False, unique=True),
        Column("key", Text(), nullable=False),
        Column("page_hash", String(64)),
        Column("link", Text()),
        Column("guid", Text()),
        Column("title", Text(), nullable=False),
        Column("summary", Text()),
        Column("content", Text()),
        Column("author", Text()),
        _when("published", nullable=False),
        Column("has_date", Boolean(), nullable=False),
        _when("updated", nullable=False),
        _when("first_seen", nullable=False),
        _when("last_seen", nullable=False),
        Column("site", String(255)),
        Column("site_key", SITE_KEY),
        Column("bookmark_count", Integer()),
        Column("image", Text()),
        Column("enclosures", JSON(), nullable=False),
        Column("owner_source_id", Integer()),
        Column("owner_rank", Integer(), nullable=False),
        Column("version", Integer(), nullable=False),
        Index("ix_item_published", "published"),
        Index("ix_item_site_key_published", "site_key", "published"),
        Index("ix_item_bookmarks_published", "bookmark_count", "published"),
        Index("ix_item_page", "page_hash"),
    )  # fmt: skip
    Table(
        "tag", metadata,
        Column("id", Integer(), primary_key=True),
        Column("name", String(100), nullable=False, unique=True),
        Column("display", String(100), nullable=False),
    )  # fmt: skip
    Table(
        "item_tag", metadata,
        Column("tag_id", Integer(), ForeignKey("tag.id"), primary_key=True),
        Column("item_id", ID, primary_key=True),
        _when("published", nullable=False),
        Index("ix_item_tag_item_id", "item_id"),
        Index("ix_item_tag_tag_published", "tag_id", "published"),
    )  # fmt: skip
    Table(
        "sighting", metadata,
        Column("item_id", ID, primary_key=True),
        Column("source_id", Integer(), primary_key=True),
        Column("entry_hash", String(64)),
        Column("guid", Text()),
        Column("tags", JSON(), nullable=False),
        Column("user", Text()),
        Column("comment", Text()),
        Column("bookmark_count", Integer()),
        _when("said_at"),
        _when("first_seen", nullable=False),
        _when("last_seen", nullable=False),
        Index("ix_sighting_source_id", "source_id"),
        Index("ix_sighting_source_entry", "source_id", "entry_hash"),
    )  # fmt: skip
    Table(
        "meta", metadata,
        Column("key", String(64), primary_key=True),
        Column("value", BigInteger(), nullable=False),
    )  # fmt: skip
    Table(
        "run_lock", metadata,
        Column("name", String(64), primary_key=True),
        Column("owner", String(64)),
        _when("acquired_at"),
        _when("expires_at"),
    )  # fmt: skip
    return metadata
