"""What every feed format shares once its fields are read: cleaning them into a ``ParsedEntry``.

Here: the size limits, the warnings collector, URL resolution, and
``build_entry``, which sends every string through ``aggregator.sanitize``
(text through ``clean_text``, HTML through ``clean_html``, URLs through
``safe_url``), deduplicates tags and enclosures, clamps dates and computes the
raw hash. Not here: reading a particular format, which is ``xmlfeed`` or
``jsonfeed``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin

from ..sanitize import clean_html, clean_text, safe_url, strip_invalid_chars
from .model import ParsedEnclosure, ParsedEntry

MAX_TITLE = 2_000
MAX_GUID = 1_000
MAX_AUTHOR = 500
MAX_TAGS = 100
MAX_TAG_LENGTH = 100
MAX_ENCLOSURES = 50
MAX_MIME_TYPE = 200
MAX_WARNINGS = 50
MAX_BOOKMARK_COUNT = 10**9
_CACHED_TAG = 200  # longer categories are cleaned each time, not kept in the cache

RawEnclosure = tuple[Any, Any, Any]  # href, MIME type, length as the document gives them


class Warnings:
    """The problems a parse recovered from: deduplicated, at most ``MAX_WARNINGS`` kept."""

    def __init__(self, initial: Sequence[str] = ()) -> None:
        self.items: list[str] = list(initial)
        self.dropped = 0

    def add(self, message: str) -> None:
        if message in self.items:
            return
        if len(self.items) < MAX_WARNINGS:
            self.items.append(message)
        else:
            self.dropped += 1

    def result(self) -> tuple[str, ...]:
        if self.dropped:
            return (*self.items, f"{self.dropped} more warnings")
        return tuple(self.items)


def describe_error(exc: object) -> str:
    """An exception as a short one-line message: its type and its text."""
    message = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {message}"[:200]


def resolve_url(value: Any, base: str) -> str | None:
    """``value`` resolved against ``base`` if that gives a safe absolute http(s) URL, else None."""
    if not isinstance(value, str) or not value.strip() or len(value) > 4096:
        return None
    candidate = strip_invalid_chars(value).strip()
    try:
        candidate = urljoin(base, candidate)
    except ValueError:
        return None
    return safe_url(candidate)


def clean_text_or_none(value: str | None, limit: int) -> str | None:
    """Plain text of at most ``limit`` characters; None when nothing is left."""
    return clean_text(value, limit=limit) or None if value else None


def _html(value: str | None, base: str | None) -> str | None:
    return clean_html(value, base=base) if value else None


def _sane_date(value: datetime | None, now: datetime, warnings: Warnings, what: str) -> datetime | None:
    if value is None:
        return None
    if value.year < 1970:
        return None
    if value > now + timedelta(days=1):
        warnings.add(f"{what} date in the future clamped to now")
        return now
    return value


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip().replace(",", "")
        if not text.isdigit() or len(text) > 10:
            return None
        number = int(text)
    else:
        return None
    return number if 0 <= number < MAX_BOOKMARK_COUNT else None


def _length(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return value if 0 <= value < 2**63 else None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 18:
        return int(value.strip())
    return None


@lru_cache(maxsize=4096)
def _clean_tag(tag: str) -> str | None:
    """A category's clean text; cached, as the same categories recur in entry after entry."""
    return clean_text_or_none(tag, MAX_TAG_LENGTH)


def _clean_tags(tags: Sequence[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    clean_tags: list[str] = []
    for tag in tags:
        short = isinstance(tag, str) and len(tag) <= _CACHED_TAG
        text = _clean_tag(tag) if short else clean_text_or_none(tag, MAX_TAG_LENGTH)
        if text and text not in seen:
            seen.add(text)
            clean_tags.append(text)
            if len(clean_tags) >= MAX_TAGS:
                break
    return tuple(clean_tags)


def _clean_enclosures(enclosures: Sequence[RawEnclosure], base: str) -> tuple[ParsedEnclosure, ...]:
    clean_enclosures: list[ParsedEnclosure] = []
    enclosure_urls: set[str] = set()
    for href, mime, size in enclosures:
        enclosure_url = resolve_url(href, base)
        if enclosure_url is None or enclosure_url in enclosure_urls:
            continue
        enclosure_urls.add(enclosure_url)
        mime_type = clean_text_or_none(mime if isinstance(mime, str) else None, MAX_MIME_TYPE)
        clean_enclosures.append(ParsedEnclosure(url=enclosure_url, type=mime_type, length=_length(size)))
        if len(clean_enclosures) >= MAX_ENCLOSURES:
            break
    return tuple(clean_enclosures)


def _raw_hash(
    title: str, link: str | None, summary: str | None, content: str | None, published: datetime | None
) -> str:
    identity = json.dumps(
        [title, link, summary, content, published.isoformat() if published else None],
        ensure_ascii=False,
    )
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


def build_entry(
    *,
    base: str,
    now: datetime,
    warnings: Warnings,
    link: Any,
    guid: Any,
    title: str | None,
    summary: str | None,
    content: str | None,
    html_bases: tuple[str | None, str | None] = (None, None),
    author: Any,
    published: datetime | None,
    updated: datetime | None,
    tags: Sequence[str],
    bookmark_count: Any,
    image: Any,
    enclosures: Sequence[RawEnclosure],
) -> ParsedEntry:
    """A ``ParsedEntry`` from one entry's raw fields, every string sanitized and bounded.

    ``html_bases`` are what relative URLs in the summary and the content resolve against
    (``xml:base`` or the document's URL; None: left as they are).
    """
    clean_link = resolve_url(link, base)
    clean_guid: str | None = None
    if isinstance(guid, str):
        clean_guid = strip_invalid_chars(guid).strip()[:MAX_GUID].strip() or None
    clean_title = clean_text_or_none(title, MAX_TITLE) or ""
    clean_summary = _html(summary, html_bases[0])
    clean_content = _html(content, html_bases[1])
    clean_published = _sane_date(published, now, warnings, "published")
    clean_updated = _sane_date(updated, now, warnings, "updated")
    return ParsedEntry(
        link=clean_link,
        guid=clean_guid,
        title=clean_title,
        summary=clean_summary,
        content=clean_content,
        author=clean_text_or_none(author if isinstance(author, str) else None, MAX_AUTHOR),
        published=clean_published,
        updated=clean_updated,
        tags=_clean_tags(tags),
        bookmark_count=_count(bookmark_count),
        image=resolve_url(image, base),
        enclosures=_clean_enclosures(enclosures, base),
        raw_hash=_raw_hash(clean_title, clean_link, clean_summary, clean_content, clean_published),
    )
