"""Pure text and HTML cleaning: the only place that decides what markup survives.

Everything we store or republish passes through here: HTML through nh3 (an
allowlist sanitizer), plain text through ``clean_text`` (no tags, no control
characters, no lone surrogates: valid for SQLite, PostgreSQL and XML 1.0), URLs
through ``safe_url`` (absolute http/https only). Bounding how deeply markup
nests before nh3 builds a tree is ``htmldepth``'s job, not this module's.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import nh3

from .htmldepth import MAX_HTML_DEPTH, limit_html_depth

__all__ = [
    "LINK_SCHEMES",
    "MAX_HTML",
    "MAX_HTML_DEPTH",
    "MAX_TEXT",
    "RAW_TEXT_FACTOR",
    "URL_SCHEMES",
    "clean_html",
    "clean_text",
    "excerpt",
    "limit_html_depth",
    "safe_url",
    "strip_invalid_chars",
]

URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_SCHEMES = frozenset({"http", "https"})

# Characters XML 1.0 forbids, plus NUL (PostgreSQL rejects it), lone
# surrogates (unencodable) and the two non-characters U+FFFE / U+FFFF.
_INVALID_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
# White space that is layout, not text: the ideographic space (U+3000) of Japanese
# titles and the no-break space are kept as written.
_ANY_SPACE = re.compile(r"\s")  # str.isspace: the same characters for str patterns
_SPACE_RUNS = re.compile(r"[^\S\u3000\u00a0]+")

_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "dd",
        "del",
        "details",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "pre",
        "q",
        "rp",
        "rt",
        "ruby",
        "s",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "time",
        "tr",
        "u",
        "ul",
        "var",
    }
)
_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "time": {"datetime"},
    "blockquote": {"cite"},
    "q": {"cite"},
}
_DROP_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "template", "noscript"})

MAX_TEXT = 2_000
RAW_TEXT_FACTOR = 8  # markup read per character of text kept
MAX_HTML = 512 * 1024


def strip_invalid_chars(value: str) -> str:
    """Remove characters that XML 1.0, SQLite text or PostgreSQL cannot hold."""
    return _INVALID_CHARS.sub("", value)


def clean_html(value: str | None, *, limit: int = MAX_HTML) -> str | None:
    """Sanitize an HTML fragment with an allowlist; ``None`` when nothing is left."""
    if not value:
        return None
    cleaned = nh3.clean(
        limit_html_depth(strip_invalid_chars(value)[:limit]),
        tags=set(_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes={k: set(v) for k, v in _ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    # nh3 turns references such as &#1; back into characters: strip them again.
    cleaned = strip_invalid_chars(cleaned).strip()
    return cleaned or None


def clean_text(value: str | None, *, limit: int = MAX_TEXT) -> str:
    """Turn a possibly-HTML string into one line of plain text (tags dropped, entities decoded)."""
    if not value:
        return ""
    text = strip_invalid_chars(value)[: limit * RAW_TEXT_FACTOR]
    if "<" in text or "&" in text:  # without either there is no markup and no reference to decode
        without_tags = nh3.clean(
            limit_html_depth(text), tags=set(), clean_content_tags=set(_DROP_WITH_CONTENT)
        )
        text = strip_invalid_chars(html.unescape(without_tags))
    text = _SPACE_RUNS.sub(" ", text).strip(" ")
    return text[:limit]


def excerpt(value: str | None, *, limit: int = 280) -> str:
    """Plain-text excerpt of an HTML fragment, cut at ``limit`` characters."""
    text = clean_text(value, limit=100_000)
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def safe_url(value: str | None, *, schemes: frozenset[str] = LINK_SCHEMES) -> str | None:
    """Return ``value`` if it is an absolute URL with an allowed scheme, else ``None``."""
    if not value:
        return None
    candidate = strip_invalid_chars(value).strip()
    if not candidate or len(candidate) > 4096 or _ANY_SPACE.search(candidate):
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in schemes:
        return None
    if parts.scheme.lower() in LINK_SCHEMES and not parts.hostname:
        return None
    return candidate
