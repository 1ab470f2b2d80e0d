"""RSS 2.0: items with the summary as description (content:encoded when both
exist), categories, one enclosure, the first source, dc:creator, the item's page
as an ``atom:link rel="related"`` and, with extensions, the bookmark count."""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import format_datetime
from functools import partial
from typing import Any

from ..sanitize import clean_text
from ..views import FeedMeta, ItemView
from .common import (
    ATOM_NS,
    DC_NS,
    DEFAULT_MEDIA_TYPE,
    UNTITLED,
    Entry,
    add_bookmark_count,
    clean_fragment,
    generator,
    note_html,
    prepare,
    sub,
)


def _extras(entry: Entry, extensions: bool, element: Any) -> None:
    # email.utils, unlike feedgen's formatter, does not switch the process locale.
    sub(element, "pubDate", format_datetime(entry.published))
    if entry.author:
        sub(element, f"{{{DC_NS}}}creator", entry.author)
    if entry.page:
        # An atom:link, not <comments>: the page says where the item came from, it takes no comments.
        sub(element, f"{{{ATOM_NS}}}link", rel="related", type="text/html", href=entry.page)
    if extensions:
        add_bookmark_count(entry, element)


def render_rss(meta: FeedMeta, items: Sequence[ItemView], *, extensions: bool = False) -> bytes:
    fg = generator(meta, "rss", extensions=extensions)
    fg.description(clean_text(meta.subtitle) or clean_text(meta.title) or UNTITLED)
    for entry in (prepare(item, meta.item_pages) for item in items):
        fe = fg.add_entry(order="append")
        fe.guid(entry.id, permalink=False)
        fe.title(entry.title)
        if entry.link:
            fe.link(href=entry.link, rel="alternate")
        description = entry.summary or entry.content
        if description is None and entry.note:
            description = clean_fragment(note_html(entry.note))
        if description:
            fe.description(description)
        if entry.summary and entry.content:
            fe.content(entry.content)
        for term, label in entry.tags:
            fe.category(term=term, label=label)
        if entry.enclosures:  # RSS 2.0 allows one enclosure per item
            url, media_type, length = entry.enclosures[0]
            fe.link(href=url, rel="enclosure", type=media_type or DEFAULT_MEDIA_TYPE, length=str(length or 0))
        if entry.source:
            fe.source(url=entry.source[0], title=entry.source[1])
        fe.agg.add = partial(_extras, entry, extensions)
    return bytes(fg.rss_str(pretty=True, encoding="UTF-8"))
