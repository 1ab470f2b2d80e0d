"""Atom 1.0 (RFC 4287): entries with content or summary as HTML, categories with
labels, enclosure links, the item's page as a ``related`` link, the first source
that carried the item and, with extensions, the bookmark count."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from ..sanitize import clean_text
from ..views import FeedMeta, ItemView
from .common import UNTITLED, Entry, add_bookmark_count, clean_fragment, generator, note_html, prepare, sub


def _extras(entry: Entry, extensions: bool, element: Any) -> None:
    # feedgen 1.0 drops rel/type/length from entry links, so enclosures are written here.
    for url, media_type, length in entry.enclosures:
        attrs = {"rel": "enclosure", "href": url}
        attrs.update({"type": media_type} if media_type else {})
        attrs.update({"length": str(length)} if length is not None else {})
        sub(element, "link", **attrs)
    if entry.page:
        sub(element, "link", rel="related", type="text/html", href=entry.page)
    if entry.source:
        source = sub(element, "source")
        sub(source, "id", entry.source[0])
        sub(source, "title", entry.source[1])
        sub(source, "link", rel="self", href=entry.source[0])
        sub(source, "updated", entry.source[2].isoformat())
    if extensions:
        add_bookmark_count(entry, element)


def render_atom(meta: FeedMeta, items: Sequence[ItemView], *, extensions: bool = False) -> bytes:
    fg = generator(meta, "atom", extensions=extensions)
    subtitle = clean_text(meta.subtitle)
    if subtitle:
        fg.subtitle(subtitle)
    # RFC 4287 4.1.1: a feed needs an author unless every entry has one.
    fg.author(name=clean_text(meta.title) or UNTITLED)
    for entry in (prepare(item, meta.item_pages) for item in items):
        fe = fg.add_entry(order="append")
        fe.id(entry.id)
        fe.title(entry.title)
        fe.updated(entry.updated)
        fe.published(entry.published)
        if entry.link:
            fe.link(href=entry.link, rel="alternate")
        if entry.author:
            fe.author(name=entry.author)
        content, summary = entry.content, entry.summary
        if content is None and summary is None and entry.note:
            content = clean_fragment(note_html(entry.note))
        if content is None and entry.link is None:
            content, summary = summary or "", None  # no alternate link: content is required
        if content is not None:
            fe.content(content, type="html")
        if summary:
            fe.summary(summary, type="html")
        for term, label in entry.tags:
            fe.category(term=term, label=label)
        fe.agg.add = partial(_extras, entry, extensions)
    return bytes(fg.atom_str(pretty=True, encoding="UTF-8"))
