"""JSON Feed 1.0 and 1.1, read with the standard ``json`` module.

Here: decoding the JSON text, checking the version URL, and reading items
into raw fields (ids, links, ``content_html`` / ``content_text``, authors,
tags, attachments, RFC 3339 dates). Not here: sniffing that a body is JSON
(``sniff``) or cleaning the fields (``entries``).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from ..errors import ParseError
from ..sanitize import MAX_HTML
from .encoding import UTF8_BOM, detect_unicode_form
from .entries import (
    MAX_TITLE,
    RawEnclosure,
    Warnings,
    build_entry,
    clean_text_or_none,
    describe_error,
    resolve_url,
)
from .language import clean_language
from .model import Damage, ParsedEntry, ParsedFeed

JSONFEED_VERSION_PREFIX = "https://jsonfeed.org/version/"


def _decode_json(body: bytes) -> tuple[str, str]:
    """The JSON text and the codec it was read with (UTF-8 unless a UTF-16/32 form shows)."""
    unicode_form = detect_unicode_form(body)
    if unicode_form is None:
        return body.removeprefix(UTF8_BOM).decode("utf-8", errors="replace"), "utf-8"
    encoding, skip = unicode_form
    return body[skip:].decode(encoding, errors="replace"), encoding


def _format_name(version: str) -> str:
    """The format name for a JSON Feed version URL: "json10", "json11", or "json" for an odd number."""
    number = version[len(JSONFEED_VERSION_PREFIX) :].strip("/")
    digits = number.replace(".", "", 1)
    if digits.isdigit() and len(digits) <= 3:
        return "json" + (digits if "." in number else digits + "0")
    return "json"


def parse_json(body: bytes, url: str, now: datetime, max_entries: int) -> ParsedFeed:
    """Parse a JSON Feed document.

    Raises:
        ParseError: ``parse`` for invalid JSON, ``not_a_feed`` for JSON that is no JSON Feed.
    """
    raw_text, encoding = _decode_json(body)
    try:
        document = json.loads(raw_text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"invalid JSON: {describe_error(exc)}", category="parse") from exc
    if not isinstance(document, dict):
        raise ParseError("not a feed: JSON that is not a JSON Feed object", category="not_a_feed")
    version = document.get("version")
    if not isinstance(version, str) or not version.startswith(JSONFEED_VERSION_PREFIX):
        raise ParseError("not a feed: JSON without a JSON Feed version", category="not_a_feed")

    warnings = Warnings()
    items = document.get("items")
    if not isinstance(items, list):
        warnings.add("JSON Feed without an items list")
        items = []
    total = len(items)
    damage: list[Damage] = []
    if total > max_entries:
        message = f"truncated to the first {max_entries} of {total} entries"
        warnings.add(message)
        damage.append(Damage("cap", f"{message} (the per-feed item cap)"))
    entries: list[ParsedEntry] = []
    skipped = 0
    for index, item in enumerate(items[:max_entries]):
        if not isinstance(item, dict):
            warnings.add(f"item {index}: not an object, skipped")
            skipped += 1
            continue
        entries.append(_entry_from_json(item, url, now, warnings))
    if skipped:
        damage.append(Damage("skipped", f"{skipped} JSON Feed items are not objects, skipped"))
    return ParsedFeed(
        format=_format_name(version),
        title=clean_text_or_none(_str(document.get("title")), MAX_TITLE),
        link=resolve_url(_str(document.get("home_page_url")), url),
        ttl_minutes=None,
        is_hatena=False,
        entries=tuple(entries),
        total_entries=total,
        warnings=warnings.result(),
        encoding=encoding,
        language=clean_language(document.get("language")),
        damage=tuple(damage),
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _text_paragraphs(text: str) -> str:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text[:MAX_HTML]) if p.strip()]
    return "\n".join("<p>" + html.escape(p, quote=False).replace("\n", "<br>\n") + "</p>" for p in paragraphs)


def _json_author(item: Mapping[str, Any]) -> str | None:
    candidates: list[Any] = []
    authors = item.get("authors")
    if isinstance(authors, list):
        candidates.extend(authors)
    candidates.append(item.get("author"))
    for candidate in candidates:
        if isinstance(candidate, dict):
            name = candidate.get("name")
            if isinstance(name, str) and name.strip():
                return name
    return None


def _json_guid(item: Mapping[str, Any]) -> str | None:
    raw_id = item.get("id")
    if isinstance(raw_id, str):
        return raw_id
    if isinstance(raw_id, int | float) and not isinstance(raw_id, bool):
        return str(raw_id)
    return None


def _json_content(item: Mapping[str, Any]) -> str | None:
    content_html = _str(item.get("content_html"))
    if content_html and content_html.strip():
        return content_html
    content_text = _str(item.get("content_text"))
    if content_text and content_text.strip():
        return _text_paragraphs(content_text)
    return None


def _json_tags(item: Mapping[str, Any]) -> list[str]:
    tags = item.get("tags")
    return [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []


def _json_enclosures(item: Mapping[str, Any]) -> list[RawEnclosure]:
    attachments = item.get("attachments")
    if not isinstance(attachments, list):
        return []
    return [
        (attachment.get("url"), attachment.get("mime_type"), attachment.get("size_in_bytes"))
        for attachment in attachments
        if isinstance(attachment, dict)
    ]


def _entry_from_json(item: Mapping[str, Any], base: str, now: datetime, warnings: Warnings) -> ParsedEntry:
    link = _str(item.get("url"))
    if not resolve_url(link, base):
        link = _str(item.get("external_url"))
    image = _str(item.get("image"))
    if not resolve_url(image, base):
        image = _str(item.get("banner_image"))
    summary_text = _str(item.get("summary"))
    published = _parse_json_date(item.get("date_published"))
    updated = _parse_json_date(item.get("date_modified"))
    return build_entry(
        base=base,
        now=now,
        warnings=warnings,
        link=link,
        guid=_json_guid(item),
        title=_str(item.get("title")),
        summary=_text_paragraphs(summary_text) if summary_text else None,
        content=_json_content(item),
        author=_json_author(item),
        published=published or updated,
        updated=updated,
        tags=_json_tags(item),
        bookmark_count=None,
        image=image,
        enclosures=_json_enclosures(item),
    )


def _parse_json_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
