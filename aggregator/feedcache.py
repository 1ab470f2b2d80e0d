"""Rendered slices, cached by slice and data version; strong ETags and conditional requests.

A slice's ETag is a digest of what the feed shows (the format, the slice, the
feed title, and each item's id and version), so it changes exactly when the
feed would. The cache keys rendered bytes by slice and remembers the data
version it was built at: while no write has happened, a request costs no
database work at all (``store.versions``); after a write, the slice is re-read,
and only re-rendered when its ETag moved.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

from .views import ItemView

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Rendered:
    etag: str  # quoted strong validator
    last_modified: datetime
    body: bytes
    data_version: int


def slice_etag(fmt: str, slice_key: str, title: str, items: Sequence[ItemView]) -> str:
    """A strong ETag for what this slice shows."""
    digest = hashlib.sha256(f"{fmt}\n{slice_key}\n{title}\n".encode())
    for item in items:
        digest.update(f"{item.id}:{item.version};".encode())
    return f'"{digest.hexdigest()[:40]}"'


def newest_update(items: Sequence[ItemView]) -> datetime:
    return max((i.updated for i in items), default=EPOCH).replace(microsecond=0)


def slice_modified(items: Sequence[ItemView]) -> datetime:
    """Last-Modified of a slice, from the data alone so every server process sends the same.

    The newest of each item's date and the time it was first stored: a newly
    stored item moves it even when its own date is old. A slice that changes
    with no newer date in it (an item leaves, or joins by a tag) also changes
    its ETag, which conditional requests compare first; the cache then moves
    its Last-Modified a second past the one it sent before.
    """
    return max((max(i.updated, i.first_seen) for i in items), default=EPOCH).replace(microsecond=0)


def http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC), usegmt=True)


def is_not_modified(if_none_match: str | None, if_modified_since: str | None, entry: Rendered) -> bool:
    """RFC 9110: If-None-Match wins; If-Modified-Since only when it is absent."""
    if if_none_match is not None:
        tags = [t.strip() for t in if_none_match.split(",")]
        return "*" in tags or any(t.removeprefix("W/") == entry.etag for t in tags)
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return entry.last_modified <= since
    return False


class SliceCache:
    """A small LRU of rendered slices, safe to share between request threads."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._entries: OrderedDict[str, Rendered] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.renders = 0

    def peek(self, key: str, data_version: int) -> Rendered | None:
        """The cached rendering if it was built at ``data_version``: no database work."""
        with self._lock:
            cached = self._entries.get(key)
            if cached is None or cached.data_version != data_version:
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return cached

    def get(
        self,
        key: str,
        data_version: int,
        load: Callable[[], tuple[str, Sequence[ItemView]]],
        render: Callable[[Sequence[ItemView]], bytes],
        fmt: str,
    ) -> Rendered:
        """The rendered slice at ``data_version``: cached, re-validated, or freshly rendered."""
        hit = self.peek(key, data_version)
        if hit is not None:
            return hit
        cached = self._entries.get(key)  # built at another version: revalidated below
        title, items = load()
        etag = slice_etag(fmt, key, title, items)
        if cached is not None and cached.etag == etag:
            entry = Rendered(etag, cached.last_modified, cached.body, data_version)
        else:
            self.renders += 1
            modified = slice_modified(items)
            if cached is not None and modified <= cached.last_modified:
                # The slice changed with no newer date in it (an item left, or joined by a tag).
                modified = cached.last_modified + timedelta(seconds=1)
            entry = Rendered(etag, modified, render(items), data_version)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return entry
