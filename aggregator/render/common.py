"""What every format shares: the constants, ``item_id``, ``Entry`` (an item with
every field cleaned once, and the URL of its page when ``FeedMeta.item_pages``
is set), ``bookmark_note`` (the text of an item known only from bookmarks) and
the feedgen scaffolding of the two XML formats. Each format's own elements
belong to ``atom``, ``rss`` and ``jsonfeed``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache, partial
from html import escape
from typing import Any, ClassVar
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from ..sanitize import clean_html, clean_text, safe_url, strip_invalid_chars
from ..views import FeedMeta, ItemView

FORMATS = ("atom", "rss", "json")
MEDIA_TYPES: dict[str, str] = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
AGG_NS = "https://aggregator.invalid/ns/1.0"  # extension elements, only with extensions=True
DC_NS = "http://purl.org/dc/elements/1.1/"
ATOM_NS = "http://www.w3.org/2005/Atom"
FH_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005: fh:archive marks an archive document
ITEM_ID_PREFIX = "tag:aggregator,2026:item/"
UNTITLED = "(untitled)"
DEFAULT_MEDIA_TYPE = "application/octet-stream"

_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*")


def item_id(key: str) -> str:
    """The stable public id of an item: a tag URI derived from its key alone."""
    return ITEM_ID_PREFIX + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@lru_cache(maxsize=512)
def clean_fragment(value: str | None) -> str | None:
    """Sanitized again on the way out; remembered, as the same items appear in many slices."""
    # nh3 turns references such as "&#1;" back into characters that XML cannot hold.
    cleaned = clean_html(value)
    return (strip_invalid_chars(cleaned) or None) if cleaned else None


def as_utc(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def bookmark_note(item: ItemView, link: str | None) -> str | None:
    """Plain text for an item with no summary or content of its own.

    The users' comments ("user: comment", one a line), else how many users
    bookmarked it, else who did, else the host the link goes to; None when
    there is nothing to say.
    """
    comments = []
    for source in item.sources:
        comment = clean_text(source.comment)
        if comment:
            who = clean_text(source.user) or clean_text(source.title)
            comments.append(f"{who}: {comment}" if who else comment)
    if comments:
        return "\n".join(dict.fromkeys(comments))
    if item.bookmark_count:
        return f"{item.bookmark_count} user{'s' if item.bookmark_count != 1 else ''} bookmarked this"
    users = list(dict.fromkeys(u for u in (clean_text(s.user) for s in item.sources) if u))
    if users:
        return "Bookmarked by " + ", ".join(users)
    host = urlsplit(link).hostname if link else None
    return f"A link to {host}" if host else None


def note_html(note: str) -> str:
    """The note as HTML paragraphs, every character escaped."""
    return "".join(f"<p>{escape(line, quote=False)}</p>" for line in note.split("\n"))


@dataclass(frozen=True)
class Entry:
    """One item with every field cleaned once, for whichever format renders it."""

    id: str
    link: str | None
    title: str
    content: str | None  # HTML
    summary: str | None  # HTML
    note: str | None  # plain text, only when there is neither content nor summary
    author: str
    published: datetime
    updated: datetime
    tags: tuple[tuple[str, str], ...]  # (normalized term, display label)
    enclosures: tuple[tuple[str, str | None, int | None], ...]  # (url, media type, length)
    source: tuple[str, str, datetime] | None  # (url, title, when it carried the item), first usable
    bookmark_count: int | None
    page: str | None  # the item's page on this server: its sources and why it is here


def prepare(item: ItemView, item_pages: str = "") -> Entry:
    link = safe_url(item.link)
    tags = []
    for index, raw_label in enumerate(item.tags):
        label = clean_text(raw_label)
        term = clean_text(item.tag_names[index] if index < len(item.tag_names) else raw_label) or label
        if term:
            tags.append((term, label or term))
    enclosures = []
    for enclosure in item.enclosures:
        url, media_type = safe_url(enclosure.url), clean_text(enclosure.type)
        length = enclosure.length if enclosure.length is not None and enclosure.length >= 0 else None
        if url:
            enclosures.append((url, media_type if _MEDIA_TYPE.fullmatch(media_type) else None, length))
    sources = ((safe_url(s.url), clean_text(s.title), s.seen or item.updated) for s in item.sources)
    source = next(((url, title or url, as_utc(seen)) for url, title, seen in sources if url), None)
    content, summary = clean_fragment(item.content), clean_fragment(item.summary)
    return Entry(
        id=item_id(item.key),
        link=link,
        title=clean_text(item.title) or link or UNTITLED,
        content=content,
        summary=summary,
        note=bookmark_note(item, link) if content is None and summary is None else None,
        author=clean_text(item.author),
        published=as_utc(item.published),
        updated=as_utc(item.updated),
        tags=tuple(tags),
        enclosures=tuple(enclosures),
        source=source,
        bookmark_count=item.bookmark_count,
        page=safe_url(f"{item_pages}{item.id}") if item_pages else None,
    )


# feedgen scaffolding for Atom and RSS


class Extras:
    """A feedgen extension (feedgen instantiates the class): declares the namespaces
    and appends to each entry or item element what feedgen cannot express."""

    namespaces: ClassVar[dict[str, str]] = {}

    def __init__(self) -> None:
        self.add: Callable[[Any], None] = lambda element: None

    def extend_ns(self) -> dict[str, str]:
        return dict(self.namespaces)

    def extend_atom(self, element: Any) -> Any:
        self.add(element)
        return element

    extend_rss = extend_atom


class AtomWithAgg(Extras):
    namespaces: ClassVar[dict[str, str]] = {"agg": AGG_NS}


class RssExtras(Extras):
    namespaces: ClassVar[dict[str, str]] = {"dc": DC_NS}


class RssWithAgg(Extras):
    namespaces: ClassVar[dict[str, str]] = {"agg": AGG_NS, "dc": DC_NS}


def sub(parent: Any, tag: str, text: str | None = None, **attrib: str) -> Any:
    """A child element of ``parent`` (feedgen's lxml tree), with ``text`` and attributes."""
    element = xml_elem(tag, parent, **attrib)
    element.text = text
    return element


def add_bookmark_count(entry: Entry, element: Any) -> None:
    if entry.bookmark_count is not None:
        sub(element, f"{{{AGG_NS}}}bookmarkCount", str(entry.bookmark_count))


def generator(meta: FeedMeta, fmt: str, *, extensions: bool) -> Any:
    """A FeedGenerator with the feed-level elements; entries get their extras through ``fe.agg.add``."""
    atom = fmt == "atom"
    fg = FeedGenerator()
    if atom:
        extras: type[Extras] = AtomWithAgg if extensions else Extras
    else:
        extras = RssWithAgg if extensions else RssExtras
    fg.register_extension("agg", extras, extras, atom=atom, rss=not atom)
    fg.title(clean_text(meta.title) or UNTITLED)
    fg.id(strip_invalid_chars(meta.feed_id))
    fg.link(href=strip_invalid_chars(meta.self_url), rel="self", type=MEDIA_TYPES[fmt].split(";")[0])
    fg.link(href=strip_invalid_chars(meta.html_url or meta.self_url), rel="alternate", type="text/html")
    fg.updated(as_utc(meta.updated))  # also RSS lastBuildDate; feedgen would use "now" otherwise
    fg.generator(clean_text(meta.generator) or "aggregator")
    if meta.links or meta.archive:
        # After feedgen's own links: RSS takes its <link> from the last one feedgen holds.
        fg.agg.add = partial(_add_links, meta, "link" if atom else f"{{{ATOM_NS}}}link")
    return fg


def _add_links(meta: FeedMeta, tag: str, root: Any) -> None:
    parent = root if tag == "link" else root[0]  # Atom: <feed>; RSS: <rss><channel>
    for link in meta.links:
        sub(parent, tag, rel=link.rel, href=strip_invalid_chars(link.href))
    if meta.archive:
        xml_elem(f"{{{FH_NS}}}archive", parent, nsmap={"fh": FH_NS})
