"""One feedparser entry read into the raw fields ``entries.build_entry`` cleans.

Here: plain lookups in feedparser's dictionaries, summary and content (the
Hatena widget in ``content:encoded`` dropped), author, dates, tags, image,
enclosures and the entry's link. Not here: anything about the document as a
whole (``xmlfeed``) or the cleaning itself (``entries``).
"""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime
from typing import Any

from ..sanitize import MAX_HTML
from .entries import RawEnclosure, Warnings, build_entry, resolve_url
from .model import ParsedEntry


def get_field(mapping: Any, key: str) -> Any:
    """Plain dict lookup: skips FeedParserDict's deprecated key fallbacks."""
    if isinstance(mapping, dict):
        return dict.get(mapping, key)
    return None


def detail_text(mapping: Any, key: str) -> str | None:
    """A feedparser text construct, for ``clean_text``.

    Markup is stripped even when the feed calls the value plain text: a title
    like ``<script>…`` is much more often escaped HTML than literal text.
    """
    value = get_field(mapping, key)
    return value if isinstance(value, str) and value else None


def _html_from_construct(value: Any, kind: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    if kind == "text/plain":
        return html.escape(value[:MAX_HTML], quote=False).replace("\n", "<br>\n")
    return value


Html = tuple[str | None, str | None]  # an HTML field and the base its relative URLs resolve against


def _block_base(block: Any) -> str | None:
    """The base feedparser tracked for a text construct (``xml:base`` in force, else the document's)."""
    base = get_field(block, "base")
    return base if isinstance(base, str) and base else None


def _summary_and_content(raw: Any, *, drop_content: bool) -> tuple[Html, Html]:
    summary_raw = get_field(raw, "summary")
    blocks = [block for block in (get_field(raw, "content") or []) if isinstance(block, dict)]
    # With no description feedparser copies content:encoded into the summary;
    # Hatena descriptions are plain text, so markup there is the widget again.
    if (
        drop_content
        and isinstance(summary_raw, str)
        and "<" in summary_raw
        and any(get_field(block, "value") == summary_raw for block in blocks)
    ):
        summary_raw = None
    detail = get_field(raw, "summary_detail")
    summary = _html_from_construct(summary_raw, get_field(detail, "type"))
    content: str | None = None
    content_base: str | None = None
    if not drop_content:
        html_blocks = [b for b in blocks if get_field(b, "type") in ("text/html", "application/xhtml+xml")]
        for block in html_blocks or blocks:
            content = _html_from_construct(get_field(block, "value"), get_field(block, "type"))
            if content:
                content_base = _block_base(block)
                break
    return (summary, _block_base(detail)), (content, content_base)


def _tag_terms(raw: Any) -> list[str]:
    tags: list[str] = []
    for tag in get_field(raw, "tags") or []:
        term = get_field(tag, "term") or get_field(tag, "label")
        if isinstance(term, str):
            tags.append(term)
    return tags


def _image(raw: Any, base: str) -> Any:
    image = get_field(raw, "hatena_imageurl")
    if not resolve_url(image, base):
        for thumbnail in get_field(raw, "media_thumbnail") or []:
            candidate = get_field(thumbnail, "url")
            if resolve_url(candidate, base):
                return candidate
    return image


def _enclosure_links(raw: Any) -> list[RawEnclosure]:
    return [
        (get_field(link, "href"), get_field(link, "type"), get_field(link, "length"))
        for link in get_field(raw, "links") or []
        if get_field(link, "rel") == "enclosure"
    ]


def _entry_link(raw: Any, base: str) -> Any:
    link_value = get_field(raw, "link")
    if not resolve_url(link_value, base):
        for link in get_field(raw, "links") or []:
            if get_field(link, "rel") in (None, "alternate") and resolve_url(get_field(link, "href"), base):
                return get_field(link, "href")
    return link_value


def entry_from_feedparser(
    raw: Any, base: str, now: datetime, warnings: Warnings, *, drop_content: bool
) -> ParsedEntry:
    """A ``ParsedEntry`` from one feedparser entry; ``drop_content`` for Hatena RSS."""
    (summary, summary_base), (content, content_base) = _summary_and_content(raw, drop_content=drop_content)
    author = get_field(get_field(raw, "author_detail"), "name") or get_field(raw, "author")
    published = _struct_to_datetime(get_field(raw, "published_parsed"))
    created = _struct_to_datetime(get_field(raw, "created_parsed"))
    updated = _struct_to_datetime(get_field(raw, "updated_parsed"))
    return build_entry(
        base=base,
        now=now,
        warnings=warnings,
        link=_entry_link(raw, base),
        guid=get_field(raw, "id"),
        title=detail_text(raw, "title"),
        summary=summary,
        content=content,
        html_bases=(summary_base or base, content_base or base),
        author=author,
        published=published or created or updated,
        updated=updated,
        tags=_tag_terms(raw),
        bookmark_count=get_field(raw, "hatena_bookmarkcount"),
        image=_image(raw, base),
        enclosures=_enclosure_links(raw),
    )


def _struct_to_datetime(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time | tuple) or len(value) < 6:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in value[:6])
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None
