"""Render one republished slice as Atom 1.0, RSS 2.0 or JSON Feed 1.1.

Pure: the same ``FeedMeta``, items and ``extensions`` flag always give the same
bytes (ETags are derived from them), so nothing here reads the clock. Items
keep the order they are given in. By default only standard elements are
written (no namespace a validator does not know); ``extensions=True`` adds the
aggregator's own data (``agg:bookmarkCount``, JSON Feed's ``_aggregator``). An
item with neither content nor summary gets a note: its users' comments, its
bookmark count, or where its link goes. Defense in depth: every text field
goes through ``clean_text``, every HTML field through ``clean_html`` and every
item URL through ``safe_url`` again, whatever storage already did.

``common`` holds what the formats share; ``atom``, ``rss`` and ``jsonfeed`` one
format each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..views import FeedMeta, ItemView
from .atom import render_atom
from .common import AGG_NS, FORMATS, MEDIA_TYPES, bookmark_note, item_id
from .jsonfeed import JSON_FEED_VERSION, render_json
from .rss import render_rss

__all__ = [
    "AGG_NS",
    "FORMATS",
    "JSON_FEED_VERSION",
    "MEDIA_TYPES",
    "bookmark_note",
    "item_id",
    "render_atom",
    "render_feed",
    "render_json",
    "render_rss",
]

Renderer = Callable[..., bytes]
RENDERERS: dict[str, Renderer] = {"atom": render_atom, "rss": render_rss, "json": render_json}


def render_feed(fmt: str, meta: FeedMeta, items: Sequence[ItemView], *, extensions: bool = False) -> bytes:
    """Render ``items`` (already sorted, newest first) as ``fmt``, one of ``FORMATS``.

    ``extensions`` adds the aggregator's extension data to the standard elements.
    """
    if fmt not in RENDERERS:
        raise ValueError(f"unknown feed format {fmt!r}; expected one of {FORMATS}")
    return RENDERERS[fmt](meta, items, extensions=extensions)
