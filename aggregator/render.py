"""Render one republished slice as Atom 1.0, RSS 2.0 or JSON Feed 1.1.

Pure: the same ``FeedMeta`` and items always give the same bytes (ETags are
derived from them), so nothing here reads the clock. Items keep the order they
are given in. Defense in depth: every text field goes through ``clean_text``,
every HTML field through ``clean_html`` and every item URL through ``safe_url``
again, whatever storage already did.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import partial
from typing import Any, ClassVar

from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from .sanitize import clean_html, clean_text, safe_url, strip_invalid_chars
from .views import FeedMeta, ItemView

FORMATS = ("atom", "rss", "json")
MEDIA_TYPES: dict[str, str] = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
AGG_NS = "https://aggregator.invalid/ns/1.0"
DC_NS = "http://purl.org/dc/elements/1.1/"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
ITEM_ID_PREFIX = "tag:aggregator,2026:item/"
UNTITLED = "(untitled)"
DEFAULT_MEDIA_TYPE = "application/octet-stream"

_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*")


def item_id(key: str) -> str:
    """The stable public id of an item: a tag URI derived from its key alone."""
    return ITEM_ID_PREFIX + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def render_feed(fmt: str, meta: FeedMeta, items: Sequence[ItemView]) -> bytes:
    """Render ``items`` (already sorted, newest first) as ``fmt``, one of ``FORMATS``."""
    renderers: dict[str, Callable[[FeedMeta, Sequence[ItemView]], bytes]] = {
        "atom": render_atom,
        "rss": render_rss,
        "json": render_json,
    }
    if fmt not in renderers:
        raise ValueError(f"unknown feed format {fmt!r}; expected one of {FORMATS}")
    return renderers[fmt](meta, items)


def _html(value: str | None) -> str | None:
    # nh3 turns references such as "&#1;" back into characters that XML cannot hold.
    cleaned = clean_html(value)
    return (strip_invalid_chars(cleaned) or None) if cleaned else None


def _utc(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class _Entry:
    """One item with every field cleaned once, for whichever format renders it."""

    id: str
    link: str | None
    title: str
    content: str | None
    summary: str | None  # HTML
    author: str
    published: datetime
    updated: datetime
    tags: tuple[tuple[str, str], ...]  # (normalized term, display label)
    enclosures: tuple[tuple[str, str | None, int | None], ...]  # (url, media type, length)
    source: tuple[str, str, datetime] | None  # (url, title, when it carried the item), first usable
    bookmark_count: int | None


def _prepare(item: ItemView) -> _Entry:
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
    source = next(((url, title or url, _utc(seen)) for url, title, seen in sources if url), None)
    return _Entry(
        id=item_id(item.key),
        link=link,
        title=clean_text(item.title) or link or UNTITLED,
        content=_html(item.content),
        summary=_html(item.summary),
        author=clean_text(item.author),
        published=_utc(item.published),
        updated=_utc(item.updated),
        tags=tuple(tags),
        enclosures=tuple(enclosures),
        source=source,
        bookmark_count=item.bookmark_count,
    )


class _Extras:
    """A feedgen extension (feedgen instantiates the class): declares our namespaces
    and appends to each entry or item element what feedgen cannot express."""

    namespaces: ClassVar[dict[str, str]] = {"agg": AGG_NS}

    def __init__(self) -> None:
        self.add: Callable[[Any], None] = lambda element: None

    def extend_ns(self) -> dict[str, str]:
        return dict(self.namespaces)

    def extend_atom(self, element: Any) -> Any:
        self.add(element)
        return element

    extend_rss = extend_atom


class _RssExtras(_Extras):
    namespaces: ClassVar[dict[str, str]] = {"agg": AGG_NS, "dc": DC_NS}


def _sub(parent: Any, tag: str, text: str | None = None, **attrib: str) -> None:
    xml_elem(tag, parent, **attrib).text = text


def _generator(meta: FeedMeta, fmt: str) -> Any:
    atom = fmt == "atom"
    fg = FeedGenerator()
    extras = _Extras if atom else _RssExtras
    fg.register_extension("agg", extras, extras, atom=atom, rss=not atom)
    fg.title(clean_text(meta.title) or UNTITLED)
    fg.id(strip_invalid_chars(meta.feed_id))
    fg.link(href=strip_invalid_chars(meta.self_url), rel="self", type=MEDIA_TYPES[fmt].split(";")[0])
    fg.link(href=strip_invalid_chars(meta.html_url or meta.self_url), rel="alternate", type="text/html")
    fg.updated(_utc(meta.updated))  # also RSS lastBuildDate; feedgen would use "now" otherwise
    fg.generator(clean_text(meta.generator) or "aggregator")
    return fg


# Atom 1.0


def _atom_extras(entry: _Entry, element: Any) -> None:
    # feedgen 1.0 drops rel/type/length from entry links, so enclosures are written here.
    for url, media_type, length in entry.enclosures:
        attrs = {"rel": "enclosure", "href": url}
        attrs.update({"type": media_type} if media_type else {})
        attrs.update({"length": str(length)} if length is not None else {})
        _sub(element, "link", **attrs)
    if entry.source:
        source = xml_elem("source", element)
        _sub(source, "id", entry.source[0])
        _sub(source, "title", entry.source[1])
        _sub(source, "link", rel="self", href=entry.source[0])
        _sub(source, "updated", entry.source[2].isoformat())
    if entry.bookmark_count is not None:
        _sub(element, f"{{{AGG_NS}}}bookmarkCount", str(entry.bookmark_count))


def render_atom(meta: FeedMeta, items: Sequence[ItemView]) -> bytes:
    fg = _generator(meta, "atom")
    subtitle = clean_text(meta.subtitle)
    if subtitle:
        fg.subtitle(subtitle)
    # RFC 4287 4.1.1: a feed needs an author unless every entry has one.
    fg.author(name=clean_text(meta.title) or UNTITLED)
    for entry in map(_prepare, items):
        fe = fg.add_entry(order="append")
        fe.id(entry.id)
        fe.title(entry.title)
        fe.updated(entry.updated)
        fe.published(entry.published)
        if entry.link:
            fe.link(href=entry.link, rel="alternate")
        if entry.author:
            fe.author(name=entry.author)
        content, summary = entry.content, entry.summary
        if content is None and entry.link is None:
            content, summary = summary or "", None  # no alternate link: content is required
        if content is not None:
            fe.content(content, type="html")
        if summary:
            fe.summary(summary, type="html")
        for term, label in entry.tags:
            fe.category(term=term, label=label)
        fe.agg.add = partial(_atom_extras, entry)
    return bytes(fg.atom_str(pretty=True, encoding="UTF-8"))


# RSS 2.0


def _rss_extras(entry: _Entry, element: Any) -> None:
    # email.utils, unlike feedgen's formatter, does not switch the process locale.
    _sub(element, "pubDate", format_datetime(entry.published))
    if entry.author:
        _sub(element, f"{{{DC_NS}}}creator", entry.author)
    if entry.bookmark_count is not None:
        _sub(element, f"{{{AGG_NS}}}bookmarkCount", str(entry.bookmark_count))


def render_rss(meta: FeedMeta, items: Sequence[ItemView]) -> bytes:
    fg = _generator(meta, "rss")
    fg.description(clean_text(meta.subtitle) or clean_text(meta.title) or UNTITLED)
    for entry in map(_prepare, items):
        fe = fg.add_entry(order="append")
        fe.guid(entry.id, permalink=False)
        fe.title(entry.title)
        if entry.link:
            fe.link(href=entry.link, rel="alternate")
        if entry.summary or entry.content:
            fe.description(entry.summary or entry.content)
        if entry.summary and entry.content:
            fe.content(entry.content)
        for term, label in entry.tags:
            fe.category(term=term, label=label)
        if entry.enclosures:  # RSS 2.0 allows one enclosure per item
            url, media_type, length = entry.enclosures[0]
            fe.link(href=url, rel="enclosure", type=media_type or DEFAULT_MEDIA_TYPE, length=str(length or 0))
        if entry.source:
            fe.source(url=entry.source[0], title=entry.source[1])
        fe.agg.add = partial(_rss_extras, entry)
    return bytes(fg.rss_str(pretty=True, encoding="UTF-8"))


# JSON Feed 1.1


def _json_item(item: ItemView) -> dict[str, Any]:
    entry = _prepare(item)
    out: dict[str, Any] = {"id": entry.id, "url": entry.link, "title": entry.title}
    summary = clean_text(item.summary)
    if entry.content or entry.summary:
        out["content_html"] = entry.content or entry.summary
    else:
        out["content_text"] = summary  # JSON Feed requires content_html or content_text
    out["summary"] = summary or None
    out["image"] = safe_url(item.image)
    out["date_published"] = entry.published.isoformat()
    out["date_modified"] = entry.updated.isoformat()
    out["authors"] = [{"name": entry.author}] if entry.author else None
    out["tags"] = [label for _, label in entry.tags] or None
    out["attachments"] = [
        {"url": url, "mime_type": media_type or DEFAULT_MEDIA_TYPE}
        | ({"size_in_bytes": length} if length is not None else {})
        for url, media_type, length in entry.enclosures
    ] or None
    out["_aggregator"] = {
        "sources": [
            {
                "title": clean_text(s.title) or None,
                "url": safe_url(s.url),
                "kind": clean_text(s.kind) or None,
                "user": clean_text(s.user) or None,
                "comment": clean_text(s.comment) or None,
            }
            for s in item.sources
        ],
        "bookmark_count": entry.bookmark_count,
        "site": clean_text(item.site) or None,
    }
    return {key: value for key, value in out.items() if value is not None}


def render_json(meta: FeedMeta, items: Sequence[ItemView]) -> bytes:
    feed = {
        "version": JSON_FEED_VERSION,
        "title": clean_text(meta.title) or UNTITLED,
        "home_page_url": strip_invalid_chars(meta.html_url or meta.self_url),
        "feed_url": strip_invalid_chars(meta.self_url),
        "description": clean_text(meta.subtitle) or clean_text(meta.title) or UNTITLED,
        "items": [_json_item(item) for item in items],
    }
    return json.dumps(feed, ensure_ascii=False, indent=2).encode("utf-8")
