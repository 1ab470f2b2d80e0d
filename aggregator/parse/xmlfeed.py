"""RSS and Atom through feedparser, with the Hatena specifics.

Here: preparing the decoded text for feedparser (always an in-memory stream:
a ``str`` or ``bytes`` argument could make feedparser open a URL or a local
path), repairing invalid character references, telling a malformed feed from
a document that is no feed, Hatena detection (in Hatena RSS ``content:encoded``
is a widget, not content) and the feed-level fields. Not here: choosing the
codec (``encoding``), the entity guard (``entities``), reading one entry
(``xmlentry``) or cleaning the fields (``entries``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from ..errors import ParseError
from .encoding import decode_document
from .entities import check_entities, find_doctype, skip_misc, strip_invalid_char_refs
from .entries import MAX_TITLE, Warnings, clean_text_or_none, describe_error, resolve_url
from .language import clean_language
from .model import ParsedFeed
from .xmlentry import detail_text, entry_from_feedparser, get_field

HATENA_NS = "http://www.hatena.ne.jp/info/xmlns#"
MAX_TTL_MINUTES = 366 * 24 * 60

_FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})
_ROOT_ELEMENT = re.compile(r"<([A-Za-z_][A-Za-z0-9_.:-]*)")
_XML_DECL = re.compile(r"<\?xml\s[^>]*>")
_HATENA_DECLARATION = re.compile(r"xmlns:[A-Za-z0-9_.-]+\s*=\s*[\"']" + re.escape(HATENA_NS))


def _root_element(text: str) -> str | None:
    """Local name (lower case) of the document element, skipping the prolog."""
    doctype = find_doctype(text)
    position = skip_misc(text, doctype[1] if doctype else 0)
    match = _ROOT_ELEMENT.match(text, position)
    if match is None:
        return None
    return match.group(1).rsplit(":", 1)[-1].lower()


def _prepare_xml(text: str) -> str:
    text = text.lstrip("\ufeff \t\r\n")
    declaration = _XML_DECL.match(text)
    if declaration is not None:
        text = '<?xml version="1.0" encoding="utf-8"?>' + text[declaration.end() :]
    return text


def _run_feedparser(data: bytes, headers: dict[str, str]) -> Any:
    return feedparser.parse(
        io.BytesIO(data),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=True,
    )


def _base_url(url: str, headers: Mapping[str, str]) -> str:
    location = headers.get("content-location")
    return urljoin(url, location.strip()) if location else url


def _feedparser_headers(base: str, headers: Mapping[str, str]) -> dict[str, str]:
    fp_headers = {"content-type": "application/xml; charset=utf-8", "content-location": base}
    language = headers.get("content-language")
    if language:
        fp_headers["content-language"] = language
    return fp_headers


def _parse_or_repair(text: str, fp_headers: dict[str, str], warnings: Warnings) -> Any:
    """Run feedparser; when it raises, once more without invalid character references."""
    try:
        return _run_feedparser(text.encode("utf-8", errors="replace"), fp_headers)
    except Exception as first:
        repaired = strip_invalid_char_refs(text)
        try:
            result = _run_feedparser(repaired.encode("utf-8", errors="replace"), fp_headers)
        except Exception as second:
            raise ParseError(f"feed parser failed: {describe_error(second)}", category="parse") from second
        warnings.add(f"invalid character references removed ({describe_error(first)})")
        return result


def _refuse_non_feed(text: str, version: str, bozo_exception: Any) -> None:
    """Raise ``ParseError`` when feedparser saw no feed and the root element is none either."""
    root = _root_element(text)
    if version or (root is not None and root in _FEED_ROOTS):
        return
    if root is None:
        problem = describe_error(bozo_exception) if bozo_exception else "no markup found"
        raise ParseError(f"unreadable document: {problem}", category="parse")
    kind = "an HTML page" if root in ("html", "head", "body") else f"XML with root <{root[:40]}>"
    raise ParseError(f"not a feed: {kind}", category="not_a_feed")


def _is_hatena(namespaces: Mapping[str, str], text: str) -> bool:
    return HATENA_NS in namespaces.values() or bool(_HATENA_DECLARATION.search(text[:8192]))


def parse_xml(
    body: bytes, headers: Mapping[str, str], url: str, now: datetime, max_entries: int
) -> ParsedFeed:
    """Parse an RSS or Atom document; ``headers`` have lower-case names.

    Raises:
        ParseError: ``not_a_feed`` for XML that is no feed, ``parse`` for an unreadable one.
    """
    decoded = decode_document(body, headers.get("content-type"))
    warnings = Warnings(decoded.warnings)
    text = _prepare_xml(decoded.text)
    check_entities(text, len(body))
    base = _base_url(url, headers)
    result = _parse_or_repair(text, _feedparser_headers(base, headers), warnings)

    entries_raw: list[Any] = list(result.get("entries") or [])
    version = str(result.get("version") or "")
    bozo_exception = result.get("bozo_exception")
    feed = result.get("feed") or {}
    _refuse_non_feed(text, version, bozo_exception)
    if result.get("bozo"):
        if not entries_raw and not (get_field(feed, "title") or get_field(feed, "link")):
            raise ParseError(f"unreadable feed: {describe_error(bozo_exception)}", category="parse")
        warnings.add(f"recovered from malformed XML: {describe_error(bozo_exception)}")
    is_hatena = _is_hatena(result.get("namespaces") or {}, text)
    fmt = version or "unknown"
    drop_content = is_hatena and fmt.startswith("rss")

    total = len(entries_raw)
    if total > max_entries:
        warnings.add(f"truncated to the first {max_entries} of {total} entries")
    entries = tuple(
        entry_from_feedparser(raw, base, now, warnings, drop_content=drop_content)
        for raw in entries_raw[:max_entries]
    )
    return ParsedFeed(
        format=fmt,
        title=clean_text_or_none(detail_text(feed, "title"), MAX_TITLE),
        link=resolve_url(get_field(feed, "link"), base),
        ttl_minutes=_ttl(get_field(feed, "ttl")),
        is_hatena=is_hatena,
        entries=entries,
        total_entries=total,
        warnings=warnings.result(),
        encoding=decoded.encoding,
        language=clean_language(get_field(feed, "language")),
    )


def _ttl(value: Any) -> int | None:
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not text.isdigit() or len(text) > 9:
        return None
    minutes = int(text)
    return minutes if 0 < minutes <= MAX_TTL_MINUTES else None
