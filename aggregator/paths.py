"""Pure: the paths of this server's own pages and feeds that other modules link to."""

from __future__ import annotations

from urllib.parse import quote


def tag_path(name: str) -> str:
    """A tag as one path segment: ``/tag/{tag_path(name)}``, ``/feeds/tag/{tag_path(name)}.atom``."""
    return quote(name, safe="")
