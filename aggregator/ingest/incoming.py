"""Pure: what one source says about its entries, as ``Incoming`` records.

A user feed's description is the user's comment, not the article's summary. Which
source's text an item keeps is decided by rank (``merge``): the publisher's own feed
beats a per-site feed, which beats a per-tag feed, which beats a user's bookmark feed.
A plain feed speaks as the publisher only for links on its own site; what it says of
other sites' pages (a link blog) ranks with a user's bookmarks. A private source ranks below
every public one (its rank is negative): its text shows only while no public source has the item.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from ..identity import (
    canonical_link,
    display_tag,
    entry_identity,
    hash_text,
    item_key,
    legacy_key,
    link_host,
    normalize_tag,
    page_key,
    scoped_key,
)
from ..parse import ParsedEntry, ParsedFeed
from ..sanitize import clean_text

RANKS = {"feed": 4, "site": 3, "tag": 2, "user": 1}
OFF_SITE_RANK = RANKS["user"]
PRIVATE_DROP = 100  # a private source's rank is its kind's rank less this: below every public rank
MAX_COMMENT = 1000


@dataclass(frozen=True)
class SourceInfo:
    """What ingest needs to know about the source being polled."""

    id: int
    kind: str
    tags: tuple[str, ...] = ()  # configured tags, display forms
    private: bool = False  # its items show only in private outputs

    @property
    def rank(self) -> int:
        return RANKS.get(self.kind, 0) - (PRIVATE_DROP if self.private else 0)


def is_private_rank(rank: int) -> bool:
    """True for the rank of a private source (an item owned at such a rank no public source has seen)."""
    return rank < 0


@dataclass(frozen=True)
class ItemText:
    """The fields that name an item and say what it is: a reported entry and a stored row share them."""

    key: str
    key_hash: str
    link: str | None
    guid: str | None
    title: str
    summary: str | None
    content: str | None
    author: str | None
    site: str | None
    bookmark_count: int | None
    image: str | None


SHARED_FIELDS = tuple(f.name for f in fields(ItemText))


@dataclass(frozen=True)
class Incoming(ItemText):
    """One item as one source reports it."""

    published: datetime | None
    updated: datetime | None
    enclosures: tuple[tuple[str, str | None, int | None], ...] = ()
    tags: tuple[tuple[str, str], ...] = ()  # (normalized name, display form)
    user: str | None = None
    comment: str | None = None
    rank: int = 0  # how much this source's text counts for this item (see the module docstring)
    entry_hash: str = ""  # hash of identity.entry_identity: what tells this entry from the source's others
    scoped_key: str = ""  # the key of its own this entry takes when another entry holds ``key``
    legacy_key: str | None = None  # the key an earlier release gave it, when that differs from ``key``
    split: bool = False  # other entries of the same document link to the same page (``keys``)

    @property
    def page_hash(self) -> str | None:
        page = page_key(self.key)
        return hash_text(page) if page else None

    @property
    def legacy_key_hash(self) -> str:
        return hash_text(self.legacy_key) if self.legacy_key else ""

    def enclosure_dicts(self) -> list[dict[str, Any]]:
        return [{"url": u, "type": t, "length": n} for u, t, n in self.enclosures]


def prepare_entries(
    feed: ParsedFeed, source: SourceInfo, aliases: Mapping[str, str] | None = None
) -> list[Incoming]:
    """Every entry of a parsed feed as ``Incoming``, one per entry identity (repeats merged).

    Which item each one belongs to is decided against storage (``keys.assign_keys``).
    """
    merged: dict[str, Incoming] = {}
    home = canonical_link(feed.link, keep_fragment=False)
    for entry in feed.entries:
        incoming = to_incoming(entry, source, aliases, home=home)
        previous = merged.get(incoming.entry_hash)
        merged[incoming.entry_hash] = combine(previous, incoming) if previous else incoming
    pages = Counter(i.page_hash for i in merged.values() if i.page_hash)
    return [replace(i, split=True) if pages[i.page_hash or ""] > 1 else i for i in merged.values()]


def to_incoming(
    entry: ParsedEntry, source: SourceInfo, aliases: Mapping[str, str] | None, *, home: str | None = None
) -> Incoming:
    """One entry, seen from its source (a user feed's description is the user's comment).

    ``home`` is the canonical link of the feed's own site, when the feed names it. An
    entry with a guid that links there (a podcast episode linking to the show) is
    told apart by its guid, not by the page all its siblings share.
    """
    link = canonical_link(entry.link)
    scoped = scoped_key(entry.link, entry.guid, entry.raw_hash, source.id)
    key = item_key(entry.link, entry.guid, entry.raw_hash, source.id)
    if entry.guid and home and canonical_link(entry.link, keep_fragment=False) == home:
        key = scoped
    old_key = legacy_key(entry.link, entry.guid, entry.raw_hash, source.id)
    is_user = source.kind == "user"
    comment = clean_text(entry.summary, limit=MAX_COMMENT) if is_user else None
    return Incoming(
        key=key,
        key_hash=hash_text(key),
        link=link,
        guid=entry.guid,
        title=entry.title,
        summary=None if is_user else entry.summary,
        content=None if is_user else entry.content,
        author=None if is_user else entry.author,
        published=entry.published or entry.updated,
        updated=entry.updated,
        site=link_host(link),
        bookmark_count=entry.bookmark_count,
        image=entry.image,
        enclosures=tuple((e.url, e.type, e.length) for e in entry.enclosures),
        tags=tag_pairs([*entry.tags, *source.tags], aliases),
        user=entry.author if is_user else None,
        comment=comment or None,
        rank=text_rank(source, link_host(link), link_host(home)),
        entry_hash=hash_text(entry_identity(entry.guid, entry.link, entry.title, entry.raw_hash)),
        scoped_key=scoped,
        legacy_key=old_key if old_key != key else None,
    )


def text_rank(source: SourceInfo, site: str | None, home: str | None) -> int:
    """The source's rank, except a plain feed talking about another site's page."""
    if source.kind == "feed" and home and site and not is_same_site(site, home):
        return OFF_SITE_RANK - (PRIVATE_DROP if source.private else 0)
    return source.rank


def is_same_site(site: str, home: str) -> bool:
    """``blog.example.com`` and ``www.example.com`` belong to ``example.com``."""
    a, b = site.removeprefix("www."), home.removeprefix("www.")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def tag_pairs(raw: Iterable[str], aliases: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """(normalized name, display form) pairs, first display form per name kept."""
    pairs: dict[str, str] = {}
    for value in raw:
        name = normalize_tag(value, aliases)
        if name and name not in pairs:
            pairs[name] = display_tag(value) or name
    return tuple(pairs.items())


def combine(first: Incoming, second: Incoming) -> Incoming:
    """Two entries of one document with the same identity: first wins, tags are united."""
    names = {name for name, _ in first.tags}
    extra = tuple(pair for pair in second.tags if pair[0] not in names)
    counts = [c for c in (first.bookmark_count, second.bookmark_count) if c is not None]
    return replace(
        first,
        tags=first.tags + extra,
        bookmark_count=max(counts) if counts else None,
        summary=first.summary or second.summary,
        content=first.content or second.content,
        comment=first.comment or second.comment,
    )
