"""Guessing what a body is from its first bytes: JSON, XML, HTML or nothing at all.

Here: ``sniff_format`` and the Content-Type helpers it needs to break ties.
The body decides; the header only counts when the bytes say nothing. Not here:
decoding the whole document (``encoding``) or deciding whether XML is a feed
(``xmlfeed``).
"""

from __future__ import annotations

import codecs
import re

from .encoding import UTF8_BOM, WHITESPACE, detect_unicode_form

_HTML_PROLOG = re.compile(
    rb"(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(<!doctype\s+html\b[^>]*>)?(?:\s*<!--.*?-->)*\s*",
    re.IGNORECASE | re.DOTALL,
)
_FIRST_ELEMENT = re.compile(rb"<([A-Za-z][A-Za-z0-9_.:-]*)")
_HTML_ROOTS = frozenset({b"html", b"head", b"body"})
_JSON_TYPES = ("application/json", "application/feed+json", "text/json")


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _ascii_head(body: bytes, size: int = 1024) -> bytes:
    """The start of the body as ASCII-compatible bytes, whatever its Unicode form."""
    head = body[: size * 4]
    detected = detect_unicode_form(head)
    if detected is not None:
        codec, skip = detected
        head = head[skip:].decode(codec, errors="replace").encode("utf-8", errors="replace")
    elif head.startswith(UTF8_BOM):
        head = head[len(UTF8_BOM) :]
    return head[:size]


def sniff_format(body: bytes, content_type: str | None) -> str:
    """Guess what the body is from its first bytes: "json", "xml", "html" or "empty".

    The body decides; the Content-Type only breaks ties, because servers
    label feeds text/html or application/octet-stream all the time.
    """
    head = _ascii_head(body).lstrip(WHITESPACE)
    if not head:
        rest = body.lstrip(WHITESPACE + b"\x00").removeprefix(UTF8_BOM).strip(WHITESPACE + b"\x00")
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
