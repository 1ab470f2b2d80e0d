"""SQLModel tables. The same models run on SQLite and PostgreSQL.

Times are stored as naive UTC and come back timezone-aware (``UTCDateTime``).
Reads that the API and the renderers consume are in ``views``; every query is
in ``store``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
    true,
)
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, naive UTC on disk."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


SIGHTING_ENTRY_INDEX = "ix_sighting_source_entry"
SIGHTING_USER_INDEX = "ix_sighting_user"  # the items a user bookmarked (``filter=user:name``)
ITEM_PAGE_INDEX = "ix_item_page"
ITEM_SITE_INDEX = "ix_item_site_key_published"
ITEM_BOOKMARKS_INDEX = "ix_item_bookmarks_published"
# Site keys are compared as bytes (a prefix is a range), whatever the database's collation.
SITE_KEY_TYPE = String(256).with_variant(String(256, collation="C"), "postgresql")

# 64-bit ids on PostgreSQL; SQLite needs plain INTEGER for its rowid alias.
ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


def _when(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Source(SQLModel, table=True):
    """A feed we poll, its HTTP validators and its health."""

    __tablename__ = "source"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column=Column(String(2048), unique=True, nullable=False))
    kind: str = Field(default="feed", max_length=16)
    title: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    feed_title: str | None = Field(default=None, sa_column=Column(Text))
    feed_link: str | None = Field(default=None, sa_column=Column(Text))
    feed_language: str | None = Field(default=None, max_length=35)  # the feed's language tag
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    interval_seconds: int | None = None
    allow_private: bool | None = None
    private: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    origin: str = Field(default="config", max_length=16)  # config | opml
    enabled: bool = True
    gone: bool = False  # the server answered 410 Gone
    etag: str | None = Field(default=None, sa_column=Column(Text))
    last_modified: str | None = Field(default=None, sa_column=Column(Text))
    body_hash: str | None = Field(default=None, max_length=64)
    last_status: str | None = Field(default=None, max_length=16)
    last_http_status: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    error_category: str | None = Field(default=None, max_length=16)
    last_error_at: datetime | None = _when()
    last_warning: str | None = Field(default=None, sa_column=Column(Text))  # what the last parse lost
    consecutive_errors: int = 0
    last_polled_at: datetime | None = _when()
    last_success_at: datetime | None = _when()
    next_poll_at: datetime | None = _when(index=True)
    redirect_url: str | None = Field(default=None, sa_column=Column(Text))
    redirect_count: int = 0
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires: datetime | None = _when()
    created_at: datetime | None = _when()


class Item(SQLModel, table=True):
    """One article, however many feeds mentioned it. ``key`` is its identity."""

    __tablename__ = "item"
    __table_args__ = (
        Index("ix_item_published", "published"),
        Index(ITEM_SITE_INDEX, "site_key", "published"),
        Index(ITEM_BOOKMARKS_INDEX, "bookmark_count", "published"),
        Index(ITEM_PAGE_INDEX, "page_hash"),
    )

    id: int | None = Field(default=None, sa_column=Column(ID_TYPE, primary_key=True, autoincrement=True))
    key_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    key: str = Field(sa_column=Column(Text, nullable=False))
    page_hash: str | None = Field(default=None, sa_column=Column(String(64)))  # identity.page_key, hashed
    link: str | None = Field(default=None, sa_column=Column(Text))
    guid: str | None = Field(default=None, sa_column=Column(Text))
    title: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    summary: str | None = Field(default=None, sa_column=Column(Text))
    content: str | None = Field(default=None, sa_column=Column(Text))
    author: str | None = Field(default=None, sa_column=Column(Text))
    published: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    has_date: bool = False  # ``published`` came from a feed, not from first_seen
    updated: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    first_seen: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    site: str | None = Field(default=None, max_length=255)
    site_key: str | None = Field(default=None, sa_column=Column(SITE_KEY_TYPE))  # identity.site_key(site)
    bookmark_count: int | None = None
    image: str | None = Field(default=None, sa_column=Column(Text))
    enclosures: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    owner_source_id: int | None = None  # the source whose text fields are kept
    owner_rank: int = 0
    version: int = 1


class Tag(SQLModel, table=True):
    __tablename__ = "tag"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), unique=True, nullable=False))
    display: str = Field(sa_column=Column(String(100), nullable=False))


class ItemTag(SQLModel, table=True):
    """Item-tag link carrying the item's ``published`` so "newest N with tag X" is one index range."""

    __tablename__ = "item_tag"
    __table_args__ = (Index("ix_item_tag_tag_published", "tag_id", "published"),)

    tag_id: int = Field(foreign_key="tag.id", primary_key=True)
    item_id: int = Field(sa_column=Column(ID_TYPE, primary_key=True, index=True))
    published: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # A public source's sighting carries the tag; a link only private sources gave is ``False``.
    public: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, server_default=true()))


class Sighting(SQLModel, table=True):
    """What one source said about one item: its tags, and a user's comment.

    ``entry_hash`` names the source's entry (``identity.entry_identity``); one source's
    distinct entries never share an item. It is NULL for sightings stored before it existed.
    """

    __tablename__ = "sighting"
    __table_args__ = (
        Index(SIGHTING_ENTRY_INDEX, "source_id", "entry_hash"),
        Index(SIGHTING_USER_INDEX, "user", "item_id"),
    )

    item_id: int = Field(sa_column=Column(ID_TYPE, primary_key=True))
    source_id: int = Field(primary_key=True, index=True)
    entry_hash: str | None = Field(default=None, sa_column=Column(String(64)))
    guid: str | None = Field(default=None, sa_column=Column(Text))
    tags: list[list[str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    user: str | None = Field(default=None, sa_column=Column(Text))
    comment: str | None = Field(default=None, sa_column=Column(Text))
    bookmark_count: int | None = None
    said_at: datetime | None = _when()  # the entry's date in this source (a bookmark's date)
    first_seen: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class BookmarkPoint(SQLModel, table=True):
    """An item's bookmark count as one source reported it, when the count changed.

    One row per (item, source, time); old rows are compacted (``store.history``) so an
    item keeps a few points per hour, then per day. ``(at, item_id)`` finds the items whose
    count moved in a window, for the rising sort.
    """

    __tablename__ = "bookmark_point"
    __table_args__ = (Index("ix_bookmark_point_at", "at", "item_id"),)

    item_id: int = Field(sa_column=Column(ID_TYPE, primary_key=True))
    source_id: int = Field(primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    count: int = Field(sa_column=Column(Integer, nullable=False))


class AccessToken(SQLModel, table=True):
    """A token that opens one private output. Only its SHA-256 is stored (``store.tokens``)."""

    __tablename__ = "access_token"

    id: int | None = Field(default=None, primary_key=True)
    output: str = Field(sa_column=Column(String(64), nullable=False, index=True))  # the output's slug
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_used_at: datetime | None = _when()


class Meta(SQLModel, table=True):
    """Small key/value facts: the data version every write bumps."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True, max_length=64)
    value: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class RunLock(SQLModel, table=True):
    """A named lease (the poll run) with an expiry, so a killed holder cannot block forever."""

    __tablename__ = "run_lock"

    name: str = Field(primary_key=True, max_length=64)
    owner: str | None = Field(default=None, max_length=64)
    acquired_at: datetime | None = _when()
    expires_at: datetime | None = _when()


class Subscription(SQLModel, table=True):
    """A WebSub subscriber of one topic (a feed URL of this server): its callback, secret and lease,
    the topic's ETag it was last sent, and the verification or delivery it waits for.

    ``pending_mode`` is an intent still to verify (subscribe or unsubscribe) with the secret and
    lease it asked for; the live subscription (``active``, ``secret``, ``expires_at``) stays as it
    was until the callback confirms. ``claim_owner`` and ``claim_expires`` are a worker's lease on
    the row while it verifies or delivers, so two workers never send the same thing twice.
    """

    __tablename__ = "websub_subscription"
    __table_args__ = (Index("ix_websub_subscription_due", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))  # topic and callback
    topic: str = Field(sa_column=Column(Text, nullable=False))
    callback: str = Field(sa_column=Column(Text, nullable=False))
    active: bool = False  # verified, and its lease not over
    secret: str | None = Field(default=None, sa_column=Column(Text))
    expires_at: datetime | None = _when()
    etag: str | None = Field(default=None, max_length=64)  # the topic's ETag last sent (or at subscription)
    pending_mode: str | None = Field(default=None, max_length=16)  # subscribe | unsubscribe, to verify
    pending_secret: str | None = Field(default=None, sa_column=Column(Text))
    pending_lease: int | None = None
    attempts: int = 0  # failures in a row of the delivery (or verification) under way
    next_attempt_at: datetime | None = _when()  # None: due now
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    claim_owner: str | None = Field(default=None, max_length=64)
    claim_expires: datetime | None = _when()
    created_at: datetime | None = _when()


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a model, for bulk statements."""
    table = model.__dict__["__table__"]
    assert isinstance(table, Table)
    return table
