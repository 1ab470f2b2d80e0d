"""Pure: OPML subscription lists in and out.

Reading goes through ``defusedxml`` with DTDs forbidden, so no document type,
entity declaration or external reference is ever expanded or fetched, whatever
the encoding (UTF-8, UTF-16 with a BOM, ...). Storing the sources belongs to
``store``; reading the file to ``cli``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from datetime import datetime

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from .config import SourceConfig
from .config_values import KINDS
from .errors import ConfigError
from .sanitize import clean_text, safe_url


def read_opml(data: bytes, where: str = "<opml>") -> list[SourceConfig]:
    """Every outline with an http(s) ``xmlUrl``; its folder and ``category`` become tags.

    Raises:
        ConfigError: not an OPML document, or one with a DTD (entity declarations included).
    """
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ConfigError(f"{where}: DTDs and entity declarations are not allowed in OPML") from exc
    except ET.ParseError as exc:
        raise ConfigError(f"{where}: not well-formed XML: {exc}") from exc
    if root.tag.lower() != "opml" or root.find("body") is None:
        raise ConfigError(f"{where}: not an OPML document (no <opml><body>)")
    found: dict[str, SourceConfig] = {}
    _walk(root.find("body"), (), found)
    return list(found.values())


def _walk(node: ET.Element | None, folders: tuple[str, ...], found: dict[str, SourceConfig]) -> None:
    if node is None:
        return
    for outline in node.findall("outline"):
        url = safe_url((outline.get("xmlUrl") or outline.get("xmlurl") or "").strip())
        title = clean_text(outline.get("title") or outline.get("text") or "")
        if url:
            categories = [c.strip(" /") for c in (outline.get("category") or "").split(",")]
            tags = tuple(dict.fromkeys(t for t in (*folders, *categories) if t))
            kind = outline.get("aggregatorKind") or "feed"  # written by write_opml
            kind = kind if kind in KINDS else "feed"
            found.setdefault(url, SourceConfig(url=url, kind=kind, title=title, tags=tags))
        else:
            _walk(outline, (*folders, title) if title else folders, found)


def write_opml(sources: Iterable[Sequence[object]], *, title: str, now: datetime) -> bytes:
    """An OPML 2.0 document; each source is (url, title, kind, tags)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = now.strftime("%a, %d %b %Y %H:%M:%S GMT")
    body = ET.SubElement(root, "body")
    for url, name, kind, tags in sources:
        attrs = {"type": "rss", "text": str(name or url), "title": str(name or url), "xmlUrl": str(url)}
        tag_list = [str(t) for t in tags] if isinstance(tags, list | tuple) else []
        if tag_list:
            attrs["category"] = ",".join(tag_list)
        if kind and kind != "feed":
            attrs["aggregatorKind"] = str(kind)
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    text: str = ET.tostring(root, encoding="unicode")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + text.encode("utf-8") + b"\n"
