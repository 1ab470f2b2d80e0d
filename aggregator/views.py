"""Read models: what storage hands to the API, the renderers, the HTML pages and the CLI.

Frozen dataclasses, no behaviour beyond naming things: ``ItemView`` (one merged
item) with its ``SourceRef``s, ``SourceView`` (a source and its health), ``Audience`` (whom
a read is for: ``PUBLIC`` or ``PRIVATE``), ``TagCount``, ``PollStatus``, what a poll made of
a source, and ``Provenance``, why an item is there: its ``Sighted`` sources, its
``FieldOrigin``s and its ``BookmarkPoint``s. ``source_label``
is the one place that says what a source is called. The SQL tables live in
``models``; these are what a user sees of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeGuard, get_args

from .errors import Category

PollStatus = Literal["new", "updated", "unchanged", "not_modified", "error", "gone"]
POLL_STATUSES: tuple[PollStatus, ...] = get_args(PollStatus)
FAILED: tuple[PollStatus, ...] = ("error", "gone")  # statuses of a poll that failed


def is_poll_status(value: object) -> TypeGuard[PollStatus]:
    """True for one of ``POLL_STATUSES``."""
    return value in POLL_STATUSES


def source_label(url: str, title: str | None, feed_title: str | None) -> str:
    """What a source is called: its configured title, else the feed's own, else its URL."""
    return title or feed_title or url


@dataclass(frozen=True)
class Audience:
    """Who a read is for. The public (the default of every read) sees only what public sources
    said; the holder of a private output's token sees the private sources' items too."""

    private: bool = False


PUBLIC = Audience()
PRIVATE = Audience(private=True)


@dataclass(frozen=True)
class SourceRef:
    """One source that carried an item, and what it said about it."""

    id: int
    url: str
    title: str
    kind: str  # site | tag | user | feed
    user: str | None = None  # who bookmarked (user feeds)
    comment: str | None = None  # the user's comment (user feeds), plain text
    seen: datetime | None = None


@dataclass(frozen=True)
class SourceView:
    """A source and its health, as stored (every column of ``source``, in order) plus its item count."""

    id: int
    url: str
    kind: str = "feed"  # site | tag | user | feed
    title: str = ""  # as configured; ``label`` is what to call the source
    feed_title: str | None = None
    feed_link: str | None = None
    feed_language: str | None = None
    tags: tuple[str, ...] = ()
    interval_seconds: int | None = None
    allow_private: bool | None = None
    private: bool = False  # its items show only in private outputs; its URL only to the operator
    origin: str = "config"  # config | opml
    enabled: bool = True  # False: removed from the configuration, never polled again
    gone: bool = False  # the server answered 410 Gone
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_status: PollStatus | None = None  # None: never polled
    last_http_status: int | None = None
    last_error: str | None = None
    error_category: Category | None = None
    last_error_at: datetime | None = None
    last_warning: str | None = None  # what the last parse recovered from, and the entries kept
    consecutive_errors: int = 0
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    next_poll_at: datetime | None = None
    redirect_url: str | None = None
    redirect_count: int = 0
    lease_owner: str | None = None
    lease_expires: datetime | None = None
    created_at: datetime | None = None
    items: int = 0  # items this source sighted

    @property
    def label(self) -> str:
        return source_label(self.url, self.title, self.feed_title)

    @property
    def removed(self) -> bool:
        """No longer in the configuration: never polled again, its items kept."""
        return not self.enabled

    @property
    def next_poll(self) -> datetime | None:
        """When it is polled next; None for a removed source."""
        return self.next_poll_at if self.enabled else None


@dataclass(frozen=True)
class Enclosure:
    url: str
    type: str | None = None
    length: int | None = None


@dataclass(frozen=True)
class ItemView:
    """One merged item, ready to be rendered. Text is plain, HTML is sanitized."""

    id: int
    key: str  # the identity: canonical link, or "guid:..." / "hash:..."
    link: str | None
    title: str
    summary: str | None  # sanitized HTML
    content: str | None  # sanitized HTML
    author: str | None
    published: datetime  # aware UTC; first_seen when the feeds gave no date
    updated: datetime  # aware UTC
    first_seen: datetime
    site: str | None  # host of the link
    bookmark_count: int | None
    image: str | None
    tags: tuple[str, ...] = ()  # display forms
    tag_names: tuple[str, ...] = ()  # normalized forms, same order as ``tags``
    sources: tuple[SourceRef, ...] = ()
    enclosures: tuple[Enclosure, ...] = field(default=())
    version: int = 0  # bumped whenever the item or its tags change
    language: str | None = None  # the language tag of the feed whose text is shown, if it declared one
    growth: int | None = None  # sort=rising: new bookmarks in the window (``aggregator.sorts``)


@dataclass(frozen=True)
class FeedMeta:
    """Feed-level data for one republished slice."""

    title: str
    subtitle: str
    self_url: str  # the exact URL requested, query included
    html_url: str  # the HTML listing of the same slice
    feed_id: str  # stable per slice, e.g. "tag:host,2026:/feeds/tag/kubernetes"
    updated: datetime  # newest item's updated time, or a fixed epoch when empty
    generator: str = "aggregator"
    links: tuple[FeedLink, ...] = ()  # more feed-level links: hub, next, prev-archive, ...
    item_pages: str = (
        ""  # absolute URL an item's id is appended to for its page ("https://host/item/"); "": none
    )
    archive: bool = False  # an archive document (RFC 5005 section 4): ``fh:archive``, its items never change


@dataclass(frozen=True)
class FeedLink:
    """A feed-level link beyond self and alternate (Atom ``<link>``, RSS ``atom:link``; JSON Feed maps
    ``next`` to ``next_url`` and ``hub`` to ``hubs``)."""

    rel: str
    href: str


@dataclass(frozen=True)
class TagCount:
    """A tag and how many items carry it."""

    name: str
    display: str
    count: int


FieldRule = Literal["owner", "all_sources", "first_seen"]


@dataclass(frozen=True)
class Sighted:
    """One source that carried an item, and all it said about it (a sighting, with its source)."""

    source: SourceRef  # id, url, label, kind; user and comment as that source gave them
    tags: tuple[str, ...]  # display forms, as this source gave them
    tag_names: tuple[str, ...]  # normalized forms, same order as ``tags``
    bookmark_count: int | None  # the count this source reported, if any
    said_at: datetime | None  # the entry's own date in this source
    first_seen: datetime
    last_seen: datetime
    owner: bool  # the item keeps this source's text fields


@dataclass(frozen=True)
class FieldOrigin:
    """Where one field of an item came from, by the rule that merges what its sources say."""

    field: str
    rule: FieldRule  # owner: the owning source's; all_sources: merged from every source; first_seen
    sources: tuple[int, ...]  # ids of the sources it came from, as far as the sightings tell
    note: str  # the rule in words


@dataclass(frozen=True)
class BookmarkPoint:
    """An item's bookmark count as one source reported it at one time."""

    at: datetime
    count: int
    source_id: int
    source_title: str


@dataclass(frozen=True)
class Provenance:
    """Why an item is there: every source that carried it, where its fields came from, its counts."""

    item: ItemView
    owner_source_id: int | None
    sightings: tuple[Sighted, ...]  # oldest sighting first
    fields: tuple[FieldOrigin, ...]
    history: tuple[BookmarkPoint, ...]  # oldest first
