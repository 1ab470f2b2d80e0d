"""What a named output's feeds link to among its archives (RFC 5005 section 4):
``ArchiveLinks``, the links a document reads at the data version it is built at,
the archive URLs, and which outputs have archives at all. The partition into
months belongs to ``aggregator.archives``, the archive route to
``routes_archives``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from sqlalchemy.engine import Connection

from ..archives import Chain, Month
from ..config import OutputConfig
from ..feedcache import EPOCH
from ..filters import Filter, parse_filter
from ..store.archives import has_first_seen_before, oldest_first_seen
from ..views import FeedLink
from .deps import Settings


@dataclass(frozen=True)
class ArchiveLinks:
    """Links a feed reads from the database when it is built, and what, besides the data, they depend on."""

    key: str  # part of the cache key: what the links depend on besides the data (the month now)
    read: Callable[[Connection], tuple[FeedLink, ...]]


def archive_url(request: Request, slug: str, month: Month, ext: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/feeds/{slug}/archive/{month.key}.{ext}"


def has_archives(s: Settings, output: OutputConfig) -> bool:
    """True unless the output's filter moves with the clock (``since = "7d"``): its months would empty out."""
    aliases = s.config.aliases
    then = parse_filter(output.filters, aliases=aliases, now=EPOCH)
    later = parse_filter(output.filters, aliases=aliases, now=EPOCH + timedelta(days=1))
    return then == later


def read_chain(conn: Connection, flt: Filter, current: Month) -> Chain:
    oldest = oldest_first_seen(conn, flt)
    return Chain(Month.of(oldest) if oldest is not None else None, current)


def subscription_links(
    s: Settings, request: Request, output: OutputConfig, flt: Filter, ext: str
) -> ArchiveLinks | None:
    """The subscription document's ``prev-archive``: on the output's own feed, with no query."""
    if request.url.query or not has_archives(s, output):
        return None
    current = Month.of(s.clock())

    def read(conn: Connection) -> tuple[FeedLink, ...]:
        # Any item stored before this month makes last month the newest archive (``Chain.newest``).
        if not has_first_seen_before(conn, flt, current.start):
            return ()
        newest = current.previous()
        return (FeedLink("prev-archive", archive_url(request, output.slug, newest, ext)),)

    return ArchiveLinks(f"month={current.key}", read)
