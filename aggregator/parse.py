"""Turn a fetched body into feed data: bytes and response headers in, frozen dataclasses out.

Pure: no I/O. RSS and Atom go through feedparser, always as an in-memory
stream (a ``str`` or ``bytes`` argument could make feedparser open a URL or a
local path). Before feedparser sees a document we decode it ourselves (so
Shift_JIS really means CP932, EUC-JP falls back to its JIS X 0213 superset,
UTF-16 without a BOM is recognised) and refuse entity-expansion bombs. JSON
Feed 1.0 / 1.1 is read with the standard ``json`` module.

Every string that leaves this module went through ``aggregator.sanitize``:
text through ``clean_text``, HTML through ``clean_html``, URLs through
``safe_url``.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import io
import json
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from aggregator.errors import ParseError
from aggregator.sanitize import (
    MAX_HTML,
    clean_html,
    clean_text,
    safe_url,
    strip_invalid_chars,
)

__all__ = [
    "HATENA_NS",
    "ParsedEnclosure",
    "ParsedEntry",
    "ParsedFeed",
    "parse_feed",
    "sniff_format",
]

HATENA_NS = "http://www.hatena.ne.jp/info/xmlns#"
JSONFEED_VERSION_PREFIX = "https://jsonfeed.org/version/"

MAX_TITLE = 2_000
MAX_GUID = 1_000
MAX_AUTHOR = 500
MAX_TAGS = 100
MAX_TAG_LENGTH = 100
MAX_ENCLOSURES = 50
MAX_MIME_TYPE = 200
MAX_WARNINGS = 50
MAX_TTL_MINUTES = 366 * 24 * 60
MAX_BOOKMARK_COUNT = 10**9


ENTITY_EXPANSION_FLOOR = 2 * 1024 * 1024
ENTITY_EXPANSION_FACTOR = 4


@dataclass(frozen=True)
class ParsedEnclosure:
    url: str  # absolute http(s)
    type: str | None
    length: int | None  # bytes, as the feed claims


@dataclass(frozen=True)
class ParsedEntry:
    """One entry as the document states it; every string is already sanitized."""

    link: str | None  # absolute http(s) URL, relative ones resolved; None if missing or unsafe
    guid: str | None  # entry id / guid / JSON Feed id, at most 1000 characters
    title: str  # plain text, may be ""
    summary: str | None  # sanitized HTML
    content: str | None  # sanitized HTML; None for Hatena RSS (content:encoded is a widget)
    author: str | None  # plain text
    published: datetime | None  # aware UTC; the modification date when that is all there is
    updated: datetime | None  # aware UTC, only when the entry states it
    tags: tuple[str, ...]  # display forms in document order, deduplicated
    bookmark_count: int | None  # hatena:bookmarkcount
    image: str | None  # hatena:imageurl, media:thumbnail or JSON image / banner_image
    enclosures: tuple[ParsedEnclosure, ...]
    raw_hash: str  # sha256 of title, link, summary, content and published: identity of last resort


@dataclass(frozen=True)
class ParsedFeed:
    format: str  # feedparser's version ("rss20", "rss10", "atom10", ...), "json10" or "json11"
    title: str | None
    link: str | None
    ttl_minutes: int | None  # RSS <ttl>
    is_hatena: bool  # the Hatena namespace is declared
    entries: tuple[ParsedEntry, ...]  # at most max_entries, in document order
    total_entries: int  # entries in the document before truncation
    warnings: tuple[str, ...]  # problems recovered from
    encoding: str | None  # the codec the document was decoded with


# --------------------------------------------------------------------------- sniffing

_UTF8_BOM = codecs.BOM_UTF8
_WHITESPACE = b" \t\r\n\x0c"
_HTML_PROLOG = re.compile(
    rb"(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(<!doctype\s+html\b[^>]*>)?(?:\s*<!--.*?-->)*\s*",
    re.IGNORECASE | re.DOTALL,
)
_FIRST_ELEMENT = re.compile(rb"<([A-Za-z][A-Za-z0-9_.:-]*)")
_HTML_ROOTS = frozenset({b"html", b"head", b"body"})
_GZIP_MAGIC = b"\x1f\x8b"
_JSON_TYPES = ("application/json", "application/feed+json", "text/json")


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _charset_param(content_type: str | None) -> str | None:
    for chunk in (content_type or "").split(";")[1:]:
        key, _, value = chunk.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'").strip() or None
    return None


def _ascii_head(body: bytes, size: int = 1024) -> bytes:
    """The start of the body as ASCII-compatible bytes, whatever its Unicode form."""
    head = body[: size * 4]
    detected = _detect_unicode_form(head)
    if detected is not None:
        codec, skip = detected
        head = head[skip:].decode(codec, errors="replace").encode("utf-8", errors="replace")
    elif head.startswith(_UTF8_BOM):
        head = head[len(_UTF8_BOM) :]
    return head[:size]


def sniff_format(body: bytes, content_type: str | None) -> str:
    """Guess what the body is from its first bytes: "json", "xml", "html" or "empty".

    The body decides; the Content-Type only breaks ties, because servers
    label feeds text/html or application/octet-stream all the time.
    """
    head = _ascii_head(body).lstrip(_WHITESPACE)
    if not head:
        rest = body.lstrip(_WHITESPACE + b"\x00").removeprefix(_UTF8_BOM).strip(_WHITESPACE + b"\x00")
        if not rest or rest in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return "empty"
        head = rest[:1024]
    media = _media_type(content_type)
    first = head[:1]
    if first in (b"{", b"["):
        return "json"
    if first == b"<":
        prolog = _HTML_PROLOG.match(head)
        position = prolog.end() if prolog else 0
        element = _FIRST_ELEMENT.match(head, position)
        if element is not None:
            return "html" if element.group(1).lower() in _HTML_ROOTS else "xml"
        return "html" if prolog is not None and prolog.group(1) else "xml"
    if media in _JSON_TYPES or media.endswith("+json"):
        return "json"
    if media in ("text/html", "application/xhtml+xml"):
        return "html"
    return "xml"


# --------------------------------------------------------------------------- decoding

# Labels that name the Shift_JIS family: real documents use the Microsoft
# extensions (NEC special characters, IBM extensions), so read them as CP932.
_SJIS_LABELS = frozenset(
    {
        "shift_jis",
        "shift-jis",
        "sjis",
        "x-sjis",
        "ms_kanji",
        "ms-kanji",
        "csshiftjis",
        "windows-31j",
        "cp932",
        "ms932",
        "x-ms-cp932",
    }
)
_EUCJP_LABELS = frozenset(
    {"euc-jp", "euc_jp", "eucjp", "x-euc-jp", "x-eucjp", "ujis", "u-jis", "cseucpkdfmtjapanese"}
)
_CODEC_CHAINS: dict[str, tuple[str, ...]] = {
    "shift_jis": ("cp932", "shift_jis_2004"),
    "cp932": ("cp932", "shift_jis_2004"),
    "euc_jp": ("euc_jp", "euc_jis_2004", "euc_jisx0213"),
    # WHATWG: these labels mean windows-1252 on the web.
    "iso8859-1": ("cp1252", "latin-1"),
    "ascii": ("cp1252", "latin-1"),
    "cp1252": ("cp1252", "latin-1"),
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "big5": ("big5", "cp950", "big5hkscs"),
    "euc_kr": ("euc_kr", "cp949"),
    "tis-620": ("tis-620", "cp874"),
}
_XML_DECL_ENCODING = re.compile(rb"<\?xml\s[^>]*?encoding\s*=\s*[\"']\s*([A-Za-z0-9._:-]{1,40})\s*[\"']")
_XML_DECL = re.compile(r"<\?xml\s[^>]*>")
_LABEL = re.compile(r"[A-Za-z0-9._:-]{1,40}")


@dataclass(frozen=True)
class _Decoded:
    text: str
    encoding: str
    warnings: tuple[str, ...]


def _detect_unicode_form(body: bytes) -> tuple[str, int] | None:
    """UTF-16/32 from a BOM or from where the NUL bytes sit; (codec, bytes to skip)."""
    if body.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return ("utf-32-le" if body.startswith(codecs.BOM_UTF32_LE) else "utf-32-be"), 4
    if body.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if body.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    head = body[:64]
    if len(head) >= 4 and head[1:4] == b"\x00\x00\x00" and head[0]:
        return "utf-32-le", 0
    if len(head) >= 4 and head[:3] == b"\x00\x00\x00" and head[3]:
        return "utf-32-be", 0
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    # Markup is mostly ASCII, so in UTF-16 one byte of each pair is NUL.
    if even.count(0) == 0 and odd.count(0) >= len(odd) * 3 // 4:
        return "utf-16-le", 0
    if odd.count(0) == 0 and even.count(0) >= len(even) * 3 // 4:
        return "utf-16-be", 0
    return None


def _codec_chain(label: str) -> tuple[str, ...] | None:
    """The codecs to try, in order, for an encoding label; None when the label is unknown."""
    name = label.strip().strip("\"'").strip().lower()
    if not _LABEL.fullmatch(name):
        return None
    if name in _SJIS_LABELS:
        return _CODEC_CHAINS["cp932"]
    if name in _EUCJP_LABELS:
        return _CODEC_CHAINS["euc_jp"]
    for candidate in (name, name.removeprefix("x-")):
        try:
            codec = codecs.lookup(candidate).name
        except LookupError:
            continue
        return _CODEC_CHAINS.get(codec, (codec,))
    return None


def _is_wide_unicode(chain: tuple[str, ...]) -> bool:
    return chain[0].startswith(("utf-16", "utf-32"))


def _mostly_utf8(body: bytes) -> bool:
    """Valid UTF-8 sequences outnumber the invalid bytes: UTF-8 with some damage."""
    text = body.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for char in text if char > "\x7f") - bad
    return good > 0 and good >= bad


def _decode(body: bytes, content_type: str | None) -> _Decoded:
    warnings: list[str] = []
    unicode_form = _detect_unicode_form(body)
    if unicode_form is not None:
        codec, skip = unicode_form
        try:
            text = body[skip:].decode(codec)
        except UnicodeDecodeError:
            text = body[skip:].decode(codec, errors="replace")
            warnings.append(f"invalid {codec} bytes replaced")
        return _Decoded(text, codec, tuple(warnings))
    if body.startswith(_UTF8_BOM):
        try:
            text = body[len(_UTF8_BOM) :].decode("utf-8")
        except UnicodeDecodeError:
            text = body[len(_UTF8_BOM) :].decode("utf-8", errors="replace")
            warnings.append("invalid utf-8 bytes replaced")
        return _Decoded(text, "utf-8", tuple(warnings))

    http_label = _charset_param(content_type)
    match = _XML_DECL_ENCODING.match(body[:1024].lstrip(_WHITESPACE))
    xml_label = match.group(1).decode("ascii") if match else None
    chains: list[tuple[str, ...]] = []
    for label in (http_label, xml_label):
        if not label:
            continue
        chain = _codec_chain(label)
        if chain is None:
            warnings.append(f"unknown encoding {label[:40]!r} ignored")
        elif not _is_wide_unicode(chain) and chain not in chains:
            chains.append(chain)
    # A server default (ISO-8859-1, US-ASCII) says less than the document's own declaration.
    if len(chains) == 2 and chains[0][0] == "cp1252" and http_label and xml_label:
        chains.reverse()
    declared = chains[0][0] if chains else None

    tried: list[str] = []
    for codec in [codec for chain in chains for codec in chain] + ["utf-8"]:
        if codec in tried:
            continue
        tried.append(codec)
        try:
            text = body.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        if declared is not None and chains and codec not in chains[0]:
            warnings.append(f"encoding override: declared {declared}, decoded as {codec}")
        return _Decoded(text, codec, tuple(warnings))

    if declared is not None and declared != "utf-8":
        warnings.append(f"invalid {declared} bytes replaced")
        return _Decoded(body.decode(declared, errors="replace"), declared, tuple(warnings))
    if _mostly_utf8(body):
        warnings.append("invalid utf-8 bytes replaced")
        return _Decoded(body.decode("utf-8", errors="replace"), "utf-8", tuple(warnings))
    for codec in ("cp1252", "latin-1"):
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        if declared is not None:
            warnings.append(f"encoding override: declared {declared}, decoded as {codec}")
        return _Decoded(text, codec, tuple(warnings))
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


# --------------------------------------------------------------------------- entity bombs

_PROLOG_ITEM = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_DOCTYPE_START = re.compile(r"<!DOCTYPE\b", re.IGNORECASE)
_ENTITY_DECL = re.compile(
    r"<!ENTITY\s+(%\s+)?([^\s\"'>%&;]+)\s+"
    r"(?:\"([^\"]*)\"|'([^']*)'|(SYSTEM|PUBLIC)\b[^>]*)",
)
_ENTITY_REF = re.compile(r"&([A-Za-z_:][A-Za-z0-9_.:-]*);")
_PARAMETER_REF = re.compile(r"%[A-Za-z_:][A-Za-z0-9_.:-]*;")
_PREDEFINED_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_FIRST_START_TAG = re.compile(r"<[A-Za-z_]")
_DOCTYPE_TOKEN = re.compile(r"[\"'\[>]")
_SUBSET_TOKEN = re.compile(r"[\"'\]]|<!--")
_CHAR_REF = re.compile(r"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));")


def _char_ref_code(match: re.Match[str]) -> int | None:
    digits = match.group(1) or match.group(2)
    if len(digits) > 8:
        return None
    return int(digits, 16) if match.group(1) else int(digits)


def _char_ref_value(match: re.Match[str]) -> str:
    code = _char_ref_code(match)
    return chr(code) if code is not None and _valid_xml_char(code) else ""


def _valid_xml_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _skip_misc(text: str, position: int) -> int:
    """Skip whitespace, processing instructions and comments from ``position``."""
    while position < len(text):
        match = _PROLOG_ITEM.match(text, position)
        if match is None or match.end() == position:
            break
        position = match.end()
    return position


def _doctype(text: str) -> tuple[str | None, int] | None:
    """The prolog's DOCTYPE: (its internal subset or None, the offset just after it)."""
    position = _skip_misc(text, 0)
    if not _DOCTYPE_START.match(text, position):
        return None
    length = len(text)
    index = position + len("<!DOCTYPE")
    while True:
        match = _DOCTYPE_TOKEN.search(text, index)
        if match is None:
            return None, length
        token = match.group(0)
        if token == ">":
            return None, match.end()
        if token == "[":
            break
        end = text.find(token, match.end())
        if end < 0:
            return None, length
        index = end + 1
    start = index = match.end()
    while True:
        match = _SUBSET_TOKEN.search(text, index)
        if match is None:
            return text[start:], length
        token = match.group(0)
        if token == "]":
            close = text.find(">", match.end())
            return text[start : match.start()], length if close < 0 else close + 1
        closing = "-->" if token == "<!--" else token
        end = text.find(closing, match.end())
        if end < 0:
            return text[start:], length
        index = end + len(closing)


def _declarations_region(text: str) -> str:
    """Where entity declarations can take effect.

    The internal subset of the prolog's DOCTYPE (what expat reads), plus the
    text before the first start tag (what feedparser's lenient parser takes its
    entity declarations from, wherever the DOCTYPE is).
    """
    doctype = _doctype(text)
    subset = doctype[0] if doctype and doctype[0] else ""
    first_tag = _FIRST_START_TAG.search(text)
    head = text[: first_tag.start()] if first_tag else text
    return subset + "\n" + head if "<!ENTITY" in head else subset


def _check_entities(text: str, body_size: int) -> None:
    """Refuse documents whose entity declarations could expand far beyond the body's size."""
    if "<!ENTITY" not in text:
        return
    region = _declarations_region(text)
    if "<!ENTITY" not in region:
        return
    values: dict[str, str] = {}
    for match in _ENTITY_DECL.finditer(region):
        parameter, name, double, single, external = match.groups()
        value = double if double is not None else single
        if value is None or external:
            continue
        # Character references in a literal are replaced when it is declared:
        # "&#38;x;" becomes a reference to x by the time the entity is used.
        expanded = _CHAR_REF.sub(_char_ref_value, value)
        nested = [ref for ref in _ENTITY_REF.findall(expanded) if ref not in _PREDEFINED_ENTITIES]
        if nested or _PARAMETER_REF.search(expanded) or (parameter and "<" in expanded):
            raise ParseError(
                f"refused: entity declarations reference other entities ({name[:40]!r})",
                category="parse",
            )
        if not parameter:
            values.setdefault(name, value)
    if not values:
        return
    references = Counter(_ENTITY_REF.findall(text))
    expansion = sum(len(value) * references[name] for name, value in values.items())
    budget = max(ENTITY_EXPANSION_FLOOR, ENTITY_EXPANSION_FACTOR * body_size)
    if expansion > budget:
        raise ParseError(
            f"refused: entity declarations would expand to {expansion} characters (limit {budget})",
            category="parse",
        )


# --------------------------------------------------------------------------- XML via feedparser

_FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})
_ROOT_ELEMENT = re.compile(r"<([A-Za-z_][A-Za-z0-9_.:-]*)")


def _strip_invalid_char_refs(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code = _char_ref_code(match)
        return match.group(0) if code is not None and _valid_xml_char(code) else ""

    return _CHAR_REF.sub(replace, text)


def _root_element(text: str) -> str | None:
    """Local name (lower case) of the document element, skipping the prolog."""
    doctype = _doctype(text)
    position = _skip_misc(text, doctype[1] if doctype else 0)
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


def _describe(exc: object) -> str:
    message = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {message}"[:200]


class _Warnings:
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


def _parse_xml(
    body: bytes, headers: Mapping[str, str], url: str, now: datetime, max_entries: int
) -> ParsedFeed:
    decoded = _decode(body, headers.get("content-type"))
    warnings = _Warnings(decoded.warnings)
    text = _prepare_xml(decoded.text)
    _check_entities(text, len(body))

    base = url
    location = headers.get("content-location")
    if location:
        base = urljoin(url, location.strip())
    fp_headers = {"content-type": "application/xml; charset=utf-8", "content-location": base}
    language = headers.get("content-language")
    if language:
        fp_headers["content-language"] = language

    try:
        result = _run_feedparser(text.encode("utf-8", errors="replace"), fp_headers)
    except Exception as first:
        repaired = _strip_invalid_char_refs(text)
        try:
            result = _run_feedparser(repaired.encode("utf-8", errors="replace"), fp_headers)
        except Exception as second:
            raise ParseError(f"feed parser failed: {_describe(second)}", category="parse") from second
        warnings.add(f"invalid character references removed ({_describe(first)})")

    entries_raw: list[Any] = list(result.get("entries") or [])
    version = str(result.get("version") or "")
    bozo = bool(result.get("bozo"))
    bozo_exception = result.get("bozo_exception")
    root = _root_element(text)

    feed = result.get("feed") or {}
    if not version and (root is None or root not in _FEED_ROOTS):
        if root is None:
            problem = _describe(bozo_exception) if bozo_exception else "no markup found"
            raise ParseError(f"unreadable document: {problem}", category="parse")
        kind = "an HTML page" if root in ("html", "head", "body") else f"XML with root <{root[:40]}>"
        raise ParseError(f"not a feed: {kind}", category="not_a_feed")
    if bozo:
        if not entries_raw and not (_get(feed, "title") or _get(feed, "link")):
            raise ParseError(f"unreadable feed: {_describe(bozo_exception)}", category="parse")
        warnings.add(f"recovered from malformed XML: {_describe(bozo_exception)}")
    namespaces = result.get("namespaces") or {}
    is_hatena = HATENA_NS in namespaces.values() or bool(
        re.search(r"xmlns:[A-Za-z0-9_.-]+\s*=\s*[\"']" + re.escape(HATENA_NS), text[:8192])
    )
    fmt = version or "unknown"
    drop_content = is_hatena and fmt.startswith("rss")

    total = len(entries_raw)
    if total > max_entries:
        warnings.add(f"truncated to the first {max_entries} of {total} entries")
    entries = tuple(
        _entry_from_feedparser(raw, base, now, warnings, drop_content=drop_content)
        for raw in entries_raw[:max_entries]
    )
    return ParsedFeed(
        format=fmt,
        title=_text_or_none(_detail_text(feed, "title"), MAX_TITLE),
        link=_url(_get(feed, "link"), base),
        ttl_minutes=_ttl(_get(feed, "ttl")),
        is_hatena=is_hatena,
        entries=entries,
        total_entries=total,
        warnings=warnings.result(),
        encoding=decoded.encoding,
    )


def _get(mapping: Any, key: str) -> Any:
    """Plain dict lookup: skips FeedParserDict's deprecated key fallbacks."""
    if isinstance(mapping, dict):
        return dict.get(mapping, key)
    return None


def _detail_text(mapping: Any, key: str) -> str | None:
    """A feedparser text construct, for ``clean_text``.

    Markup is stripped even when the feed calls the value plain text: a title
    like ``<script>…`` is much more often escaped HTML than literal text.
    """
    value = _get(mapping, key)
    return value if isinstance(value, str) and value else None


def _html_from_construct(value: Any, kind: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    if kind == "text/plain":
        return html.escape(value[:MAX_HTML], quote=False).replace("\n", "<br>\n")
    return value


def _entry_from_feedparser(
    raw: Any, base: str, now: datetime, warnings: _Warnings, *, drop_content: bool
) -> ParsedEntry:
    summary_detail = _get(raw, "summary_detail")
    summary_raw = _get(raw, "summary")
    blocks = [block for block in (_get(raw, "content") or []) if isinstance(block, dict)]
    # With no description feedparser copies content:encoded into the summary;
    # Hatena descriptions are plain text, so markup there is the widget again.
    if (
        drop_content
        and isinstance(summary_raw, str)
        and "<" in summary_raw
        and any(_get(block, "value") == summary_raw for block in blocks)
    ):
        summary_raw = None
    summary = _html_from_construct(summary_raw, _get(summary_detail, "type"))
    content: str | None = None
    if not drop_content:
        html_blocks = [b for b in blocks if _get(b, "type") in ("text/html", "application/xhtml+xml")]
        for block in html_blocks or blocks:
            content = _html_from_construct(_get(block, "value"), _get(block, "type"))
            if content:
                break

    author_detail = _get(raw, "author_detail")
    author = _get(author_detail, "name") or _get(raw, "author")

    published = _struct_to_datetime(_get(raw, "published_parsed"))
    created = _struct_to_datetime(_get(raw, "created_parsed"))
    updated = _struct_to_datetime(_get(raw, "updated_parsed"))

    tags: list[str] = []
    for tag in _get(raw, "tags") or []:
        term = _get(tag, "term") or _get(tag, "label")
        if isinstance(term, str):
            tags.append(term)

    image = _get(raw, "hatena_imageurl")
    if not _url(image, base):
        for thumbnail in _get(raw, "media_thumbnail") or []:
            candidate = _get(thumbnail, "url")
            if _url(candidate, base):
                image = candidate
                break

    enclosures: list[tuple[Any, Any, Any]] = []
    for link in _get(raw, "links") or []:
        if _get(link, "rel") == "enclosure":
            enclosures.append((_get(link, "href"), _get(link, "type"), _get(link, "length")))

    link_value = _get(raw, "link")
    if not _url(link_value, base):
        for link in _get(raw, "links") or []:
            if _get(link, "rel") in (None, "alternate") and _url(_get(link, "href"), base):
                link_value = _get(link, "href")
                break

    return _build_entry(
        base=base,
        now=now,
        warnings=warnings,
        link=link_value,
        guid=_get(raw, "id"),
        title=_detail_text(raw, "title"),
        summary=summary,
        content=content,
        author=author,
        published=published or created or updated,
        updated=updated,
        tags=tags,
        bookmark_count=_get(raw, "hatena_bookmarkcount"),
        image=image,
        enclosures=enclosures,
    )


# --------------------------------------------------------------------------- JSON Feed


def _parse_json(body: bytes, url: str, now: datetime, max_entries: int) -> ParsedFeed:
    unicode_form = _detect_unicode_form(body)
    encoding = "utf-8"
    if unicode_form is not None:
        encoding, skip = unicode_form
        raw_text = body[skip:].decode(encoding, errors="replace")
    else:
        raw_text = body.removeprefix(_UTF8_BOM).decode("utf-8", errors="replace")
    try:
        document = json.loads(raw_text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"invalid JSON: {_describe(exc)}", category="parse") from exc
    if not isinstance(document, dict):
        raise ParseError("not a feed: JSON that is not a JSON Feed object", category="not_a_feed")
    version = document.get("version")
    if not isinstance(version, str) or not version.startswith(JSONFEED_VERSION_PREFIX):
        raise ParseError("not a feed: JSON without a JSON Feed version", category="not_a_feed")
    number = version[len(JSONFEED_VERSION_PREFIX) :].strip("/")
    digits = number.replace(".", "", 1)
    if digits.isdigit() and len(digits) <= 3:
        fmt = "json" + (digits if "." in number else digits + "0")
    else:
        fmt = "json"

    warnings = _Warnings()
    base = url
    home = document.get("home_page_url")
    items = document.get("items")
    if not isinstance(items, list):
        warnings.add("JSON Feed without an items list")
        items = []
    total = len(items)
    if total > max_entries:
        warnings.add(f"truncated to the first {max_entries} of {total} entries")
    entries: list[ParsedEntry] = []
    for index, item in enumerate(items[:max_entries]):
        if not isinstance(item, dict):
            warnings.add(f"item {index}: not an object, skipped")
            continue
        entries.append(_entry_from_json(item, base, now, warnings))
    return ParsedFeed(
        format=fmt,
        title=_text_or_none(_str(document.get("title")), MAX_TITLE),
        link=_url(_str(home), base),
        ttl_minutes=None,
        is_hatena=False,
        entries=tuple(entries),
        total_entries=total,
        warnings=warnings.result(),
        encoding=encoding,
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


def _entry_from_json(item: Mapping[str, Any], base: str, now: datetime, warnings: _Warnings) -> ParsedEntry:
    raw_id = item.get("id")
    guid: str | None
    if isinstance(raw_id, str):
        guid = raw_id
    elif isinstance(raw_id, int | float) and not isinstance(raw_id, bool):
        guid = str(raw_id)
    else:
        guid = None

    link = _str(item.get("url"))
    if not _url(link, base):
        link = _str(item.get("external_url"))

    content_html = _str(item.get("content_html"))
    content_text = _str(item.get("content_text"))
    content = content_html if content_html and content_html.strip() else None
    if content is None and content_text and content_text.strip():
        content = _text_paragraphs(content_text)
    summary_text = _str(item.get("summary"))
    summary = _text_paragraphs(summary_text) if summary_text else None

    title = _str(item.get("title"))
    tags = (
        [tag for tag in item.get("tags") or [] if isinstance(tag, str)]
        if isinstance(item.get("tags"), list)
        else []
    )

    image = _str(item.get("image"))
    if not _url(image, base):
        image = _str(item.get("banner_image"))

    enclosures: list[tuple[Any, Any, Any]] = []
    attachments = item.get("attachments")
    if isinstance(attachments, list):
        for attachment in attachments:
            if isinstance(attachment, dict):
                enclosures.append(
                    (attachment.get("url"), attachment.get("mime_type"), attachment.get("size_in_bytes"))
                )

    published = _parse_json_date(item.get("date_published"))
    updated = _parse_json_date(item.get("date_modified"))
    return _build_entry(
        base=base,
        now=now,
        warnings=warnings,
        link=link,
        guid=guid,
        title=title,
        summary=summary,
        content=content,
        author=_json_author(item),
        published=published or updated,
        updated=updated,
        tags=tags,
        bookmark_count=None,
        image=image,
        enclosures=enclosures,
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


# --------------------------------------------------------------------------- shared normalisation


def _url(value: Any, base: str) -> str | None:
    if not isinstance(value, str) or not value.strip() or len(value) > 4096:
        return None
    candidate = strip_invalid_chars(value).strip()
    try:
        candidate = urljoin(base, candidate)
    except ValueError:
        return None
    return safe_url(candidate)


def _text_or_none(value: str | None, limit: int) -> str | None:
    return clean_text(value, limit=limit) or None if value else None


def _html(value: str | None) -> str | None:
    return clean_html(value) if value else None


def _struct_to_datetime(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time | tuple) or len(value) < 6:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in value[:6])
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _sane_date(value: datetime | None, now: datetime, warnings: _Warnings, what: str) -> datetime | None:
    if value is None:
        return None
    if value.year < 1970:
        return None
    if value > now + timedelta(days=1):
        warnings.add(f"{what} date in the future clamped to now")
        return now
    return value


def _ttl(value: Any) -> int | None:
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not text.isdigit() or len(text) > 9:
        return None
    minutes = int(text)
    return minutes if 0 < minutes <= MAX_TTL_MINUTES else None


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


def _build_entry(
    *,
    base: str,
    now: datetime,
    warnings: _Warnings,
    link: Any,
    guid: Any,
    title: str | None,
    summary: str | None,
    content: str | None,
    author: Any,
    published: datetime | None,
    updated: datetime | None,
    tags: Sequence[str],
    bookmark_count: Any,
    image: Any,
    enclosures: Sequence[tuple[Any, Any, Any]],
) -> ParsedEntry:
    clean_link = _url(link, base)
    clean_guid: str | None = None
    if isinstance(guid, str):
        clean_guid = strip_invalid_chars(guid).strip()[:MAX_GUID].strip() or None
    clean_title = _text_or_none(title, MAX_TITLE) or ""
    clean_summary = _html(summary)
    clean_content = _html(content)
    clean_author = _text_or_none(author if isinstance(author, str) else None, MAX_AUTHOR)

    seen: set[str] = set()
    clean_tags: list[str] = []
    for tag in tags:
        text = _text_or_none(tag, MAX_TAG_LENGTH)
        if text and text not in seen:
            seen.add(text)
            clean_tags.append(text)
            if len(clean_tags) >= MAX_TAGS:
                break

    clean_enclosures: list[ParsedEnclosure] = []
    enclosure_urls: set[str] = set()
    for href, mime, size in enclosures:
        enclosure_url = _url(href, base)
        if enclosure_url is None or enclosure_url in enclosure_urls:
            continue
        enclosure_urls.add(enclosure_url)
        mime_type = _text_or_none(mime if isinstance(mime, str) else None, MAX_MIME_TYPE)
        clean_enclosures.append(ParsedEnclosure(url=enclosure_url, type=mime_type, length=_length(size)))
        if len(clean_enclosures) >= MAX_ENCLOSURES:
            break

    clean_published = _sane_date(published, now, warnings, "published")
    clean_updated = _sane_date(updated, now, warnings, "updated")
    identity = json.dumps(
        [
            clean_title,
            clean_link,
            clean_summary,
            clean_content,
            clean_published.isoformat() if clean_published else None,
        ],
        ensure_ascii=False,
    )
    return ParsedEntry(
        link=clean_link,
        guid=clean_guid,
        title=clean_title,
        summary=clean_summary,
        content=clean_content,
        author=clean_author,
        published=clean_published,
        updated=clean_updated,
        tags=tuple(clean_tags),
        bookmark_count=_count(bookmark_count),
        image=_url(image, base),
        enclosures=tuple(clean_enclosures),
        raw_hash=hashlib.sha256(identity.encode("utf-8")).hexdigest(),
    )


# --------------------------------------------------------------------------- entry point


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    *,
    now: datetime,
    max_entries: int = 1000,
) -> ParsedFeed:
    """Parse a fetched feed body.

    ``headers`` are the response headers with lower-case names; ``url`` is the
    feed's URL (relative links resolve against Content-Location, else it);
    ``now`` is an aware datetime used to clamp dates from the future.

    Raises ``ParseError`` with category ``not_a_feed`` for an empty body, an
    HTML page, XML that is no feed, or JSON that is no JSON Feed; and with
    category ``parse`` for a feed that cannot be read (or an entity bomb).
    A well-formed feed with no entries is returned with no entries.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    now = now.astimezone(UTC)
    max_entries = max(0, max_entries)
    lowered = {str(key).lower(): str(value) for key, value in headers.items()}
    kind = sniff_format(body, lowered.get("content-type"))
    if kind == "empty":
        raise ParseError("empty body", category="not_a_feed")
    if kind == "html":
        raise ParseError("not a feed: an HTML page", category="not_a_feed")
    if kind == "json":
        return _parse_json(body, url, now, max_entries)
    if body.startswith(_GZIP_MAGIC):
        raise ParseError("unreadable: the body is still gzip-compressed", category="parse")
    return _parse_xml(body, lowered, url, now, max_entries)
