"""Turn a fetched body into feed data: bytes and response headers in, frozen dataclasses out.

Pure: no I/O. ``parse_feed`` sniffs the format and dispatches. RSS and Atom go
through feedparser, always as an in-memory stream (``xmlfeed``). Before
feedparser sees a document we decode it ourselves, so Shift_JIS really means
CP932, EUC-JP falls back to its JIS X 0213 superset and UTF-16 without a BOM
is recognised (``encoding``), and expand internal entities ourselves within
a budget, refusing nested declarations (``entities``). A document that parses
only partly keeps what survived, and says what it lost in ``ParsedFeed.damage``
(``recovery``). JSON Feed 1.0 / 1.1 is read with the standard ``json`` module
(``jsonfeed``). Both formats end in ``entries.build_entry``, so every string
that leaves this package went through ``aggregator.sanitize``: text through
``clean_text``, HTML through ``clean_html``, URLs through ``safe_url``.
Fetching, storing and deciding what is new do not belong here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from ..errors import ParseError
from ..signatures import is_gzip
from .entities import ENTITY_EXPANSION_FACTOR, ENTITY_EXPANSION_FLOOR
from .entries import (
    MAX_AUTHOR,
    MAX_BOOKMARK_COUNT,
    MAX_ENCLOSURES,
    MAX_GUID,
    MAX_MIME_TYPE,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    MAX_TITLE,
    MAX_WARNINGS,
)
from .jsonfeed import JSONFEED_VERSION_PREFIX, parse_json
from .model import Damage, ParsedEnclosure, ParsedEntry, ParsedFeed
from .sniff import sniff_format
from .xmlfeed import HATENA_NS, MAX_TTL_MINUTES, parse_xml

__all__ = [
    "ENTITY_EXPANSION_FACTOR",
    "ENTITY_EXPANSION_FLOOR",
    "HATENA_NS",
    "JSONFEED_VERSION_PREFIX",
    "MAX_AUTHOR",
    "MAX_BOOKMARK_COUNT",
    "MAX_ENCLOSURES",
    "MAX_GUID",
    "MAX_MIME_TYPE",
    "MAX_TAGS",
    "MAX_TAG_LENGTH",
    "MAX_TITLE",
    "MAX_TTL_MINUTES",
    "MAX_WARNINGS",
    "Damage",
    "ParsedEnclosure",
    "ParsedEntry",
    "ParsedFeed",
    "parse_feed",
    "sniff_format",
]


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
    category ``parse`` for a feed that cannot be read (or nested entity
    declarations). A well-formed feed with no entries is returned with no
    entries; a damaged one with what survived and ``damage`` saying what was lost.
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
        return parse_json(body, url, now, max_entries)
    if is_gzip(body):
        raise ParseError("unreadable: the body is still gzip-compressed", category="parse")
    return parse_xml(body, lowered, url, now, max_entries)
