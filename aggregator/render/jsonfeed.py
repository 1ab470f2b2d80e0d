"""JSON Feed 1.1: items with content_html (or the plain-text note as content_text),
summary, image, dates, authors, tags, attachments, the item's page as
``_aggregator.item_url`` and, with extensions, the rest of the ``_aggregator``
object (sources with users and comments, bookmark count, site).
Feed history (RFC 5005) beyond ``next_url`` goes in the ``_fh`` object:
``archive: true`` on an archive document, and its ``first``, ``current``,
``prev-archive`` and ``next-archive`` links by rel."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..sanitize import clean_text, safe_url, strip_invalid_chars
from ..views import FeedMeta, ItemView
from .common import DEFAULT_MEDIA_TYPE, UNTITLED, prepare

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
# RFC 5005's links that JSON Feed has no member for, kept in the "_fh" extension object by rel.
HISTORY_RELS = ("first", "current", "prev-archive", "next-archive")


def _aggregator(item: ItemView) -> dict[str, Any]:
    return {
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
        "bookmark_count": item.bookmark_count,
        "site": clean_text(item.site) or None,
    }


def _item(item: ItemView, extensions: bool, item_pages: str) -> dict[str, Any]:
    entry = prepare(item, item_pages)
    out: dict[str, Any] = {"id": entry.id, "url": entry.link, "title": entry.title}
    summary = clean_text(item.summary)
    if entry.content or entry.summary:
        out["content_html"] = entry.content or entry.summary
    else:
        out["content_text"] = summary or entry.note or ""  # JSON Feed requires one or the other
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
    ours = _aggregator(item) if extensions else {}
    if entry.page:
        # Not external_url: that names the page a linkblog post talks about. A member starting
        # with "_" is JSON Feed's own way to extend an item; readers that do not know it skip it.
        ours["item_url"] = entry.page
    out["_aggregator"] = ours or None
    return {key: value for key, value in out.items() if value is not None}


def render_json(meta: FeedMeta, items: Sequence[ItemView], *, extensions: bool = False) -> bytes:
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": clean_text(meta.title) or UNTITLED,
        "home_page_url": strip_invalid_chars(meta.html_url or meta.self_url),
        "feed_url": strip_invalid_chars(meta.self_url),
        "description": clean_text(meta.subtitle) or clean_text(meta.title) or UNTITLED,
        "items": [_item(item, extensions, meta.item_pages) for item in items],
    }
    history: dict[str, Any] = {"archive": True} if meta.archive else {}
    for link in meta.links:
        if link.rel == "next":
            feed["next_url"] = strip_invalid_chars(link.href)
        elif link.rel == "hub":
            feed.setdefault("hubs", []).append({"type": "WebSub", "url": strip_invalid_chars(link.href)})
        elif link.rel in HISTORY_RELS:
            history[link.rel] = strip_invalid_chars(link.href)
    if history:
        feed["_fh"] = history
    return json.dumps(feed, ensure_ascii=False, indent=2).encode("utf-8")
