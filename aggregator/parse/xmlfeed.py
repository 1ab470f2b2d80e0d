"""RSS and Atom through feedparser, with the Hatena specifics.

Here: preparing the decoded text for feedparser (always an in-memory stream:
a ``str`` or ``bytes`` argument could make feedparser open a URL or a local
path), repairing invalid character references, telling a malformed feed from
a document that is no feed, Hatena detection (in Hatena RSS ``content:encoded``
is a widget, not content) and the feed-level fields. Not here: choosing the
codec (``encoding``), the entity guard (``entities``), what a recovered
document lost (``recovery``), reading one entry (``xmlentry``) or cleaning the
fields (``entries``).
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
from .encoding import decode_document, is_lossy_decoding
from .entities import NOT_EXPANDED, expand_entities, find_doctype, skip_misc, strip_invalid_char_refs
from .entries import MAX_TITLE, Warnings, clean_text_or_none, describe_error, resolve_url
from .language import clean_language
from .model import Damage, ParsedFeed
from .recovery import recover_entries, strict_parse_failure
from .xmlentry import detail_text, entry_from_feedparser, get_field

HATENA_NS = "http://www.hatena.ne.jp/info/xmlns#"
MAX_TTL_MINUTES = 366 * 24 * 60

_FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})
_ROOT_ELEMENT = re.compile(r"<([A-Za-z_][A-Za-z0-9_.:-]*)")
_XML_DECL = re.compile(r"<\?xml\s[^>]*>")
_UTF8_DECL = '<?xml version="1.0" encoding="utf-8"?>'
_HATENA_DECLARATION = re.compile(r"xmlns:[A-Za-z0-9_.-]+\s*=\s*[\"']" + re.escape(HATENA_NS))


def _root_name(text: str) -> str | None:
    """Qualified name of the document element, skipping the prolog."""
    doctype = find_doctype(text)
    position = skip_misc(text, doctype[1] if doctype else 0)
    match = _ROOT_ELEMENT.match(text, position)
    return match.group(1) if match else None


def _root_element(text: str) -> str | None:
    """Local name (lower case) of the document element."""
    name = _root_name(text)
    return name.rsplit(":", 1)[-1].lower() if name else None


def _prepare_xml(text: str) -> tuple[str, int]:
    """The text for feedparser, declared UTF-8, and how many lines were cut from its start."""
    stripped = text.lstrip("\ufeff \t\r\n")
    lines_cut = text.count("\n", 0, len(text) - len(stripped))
    declaration = _XML_DECL.match(stripped)
    if declaration is not None:
        lines_cut += declaration.group(0).count("\n")
        stripped = stripped[declaration.end() :]
    # Without a declaration feedparser would add one on a line of its own, shifting error lines.
    return _UTF8_DECL + stripped, lines_cut


def _run_feedparser(data: bytes, headers: dict[str, str]) -> Any:
    # Markup is sanitized by nh3 (``sanitize.clean_html``), which also resolves its relative
    # URLs against the base feedparser tracked for each text construct (``xml:base``):
    # feedparser's own passes over every HTML field would only be repeated.
    return feedparser.parse(
        io.BytesIO(data),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
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


def _parse_or_repair(
    text: str, fp_headers: dict[str, str], warnings: Warnings, damage: list[Damage]
) -> tuple[Any, str]:
    """Run feedparser; when it raises, once more without invalid character references.

    Returns the result and the text it was read from.
    """
    try:
        return _run_feedparser(text.encode("utf-8", errors="replace"), fp_headers), text
    except Exception as first:
        repaired = strip_invalid_char_refs(text)
        try:
            result = _run_feedparser(repaired.encode("utf-8", errors="replace"), fp_headers)
        except Exception as second:
            raise ParseError(f"feed parser failed: {describe_error(second)}", category="parse") from second
        warnings.add(f"invalid character references removed ({describe_error(first)})")
        damage.append(Damage("malformed", "invalid character references removed"))
        return result, repaired


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

    What survives a malformed, truncated or entity-capped document is kept, and
    the damage is described in ``ParsedFeed.damage``.

    Raises:
        ParseError: ``not_a_feed`` for XML that is no feed, ``parse`` for an unreadable one.
    """
    decoded = decode_document(body, headers.get("content-type"))
    warnings = Warnings(decoded.warnings)
    damage = [Damage("encoding", w) for w in decoded.warnings if is_lossy_decoding(w)]
    prepared, lines_cut = _prepare_xml(decoded.text)
    expansion = expand_entities(prepared, len(body))
    text = expansion.text
    base = _base_url(url, headers)
    result, text = _parse_or_repair(text, _feedparser_headers(base, headers), warnings, damage)

    version = str(result.get("version") or "")
    bozo_exception = result.get("bozo_exception")
    feed = result.get("feed") or {}
    _refuse_non_feed(text, version, bozo_exception)
    recovery = recover_entries(text, _root_name(text), result, expansion, lines_cut)
    entries_raw = recovery.entries
    damage.extend(recovery.damage)
    if result.get("bozo"):
        if not entries_raw and not (get_field(feed, "title") or get_field(feed, "link")):
            raise ParseError(f"unreadable feed: {describe_error(bozo_exception)}", category="parse")
        if strict_parse_failure(result) is None:
            warnings.add(f"feed parser note: {describe_error(bozo_exception)}")
        else:
            warnings.add(f"recovered from malformed XML: {describe_error(bozo_exception)}")
    is_hatena = _is_hatena(result.get("namespaces") or {}, text)
    fmt = version or "unknown"
    drop_content = is_hatena and fmt.startswith("rss")

    total = len(result.get("entries") or [])
    if len(entries_raw) > max_entries:
        message = f"truncated to the first {max_entries} of {len(entries_raw)} entries"
        warnings.add(message)
        damage.append(Damage("cap", f"{message} (the per-feed item cap)"))
    entries = tuple(
        entry_from_feedparser(raw, base, now, warnings, drop_content=drop_content)
        for raw in entries_raw[:max_entries]
    )
    return ParsedFeed(
        format=fmt,
        title=clean_text_or_none(_feed_text(feed, "title"), MAX_TITLE),
        link=resolve_url(_feed_text(feed, "link"), base),
        ttl_minutes=_ttl(get_field(feed, "ttl")),
        is_hatena=is_hatena,
        entries=entries,
        total_entries=total,
        warnings=warnings.result(),
        encoding=decoded.encoding,
        language=clean_language(get_field(feed, "language")),
        damage=tuple(damage),
    )


def _feed_text(feed: Any, key: str) -> str | None:
    """A feed-level string, without the marks of references the entity budget left unexpanded."""
    value = detail_text(feed, key)
    return value.replace(NOT_EXPANDED, "") if value else None


def _ttl(value: Any) -> int | None:
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not text.isdigit() or len(text) > 9:
        return None
    minutes = int(text)
    return minutes if 0 < minutes <= MAX_TTL_MINUTES else None
