"""Read models: what storage hands to the API, the renderers and the HTML pages.

Frozen dataclasses, no behaviour. The SQL tables live in ``models``; these are
what a user of a republished feed sees of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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


@dataclass(frozen=True)
class TagCount:
    """A tag and how many items carry it."""

    name: str
    display: str
    count: int
