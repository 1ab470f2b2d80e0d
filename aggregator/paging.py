"""Paged feeds (RFC 5005 section 3): the ``before`` cursor a feed URL may carry and
the links of a page.

A page is a keyset slice: the items older than its cursor, the (published, id)
of the last item of the page before it. Items that arrive meanwhile are newer
than any cursor already handed out, so they never shift a page, and following
``next`` from the first page to the end meets every item of the slice once, in
order. ``next_link`` is the one place that knows how a page's order turns into
a cursor (popular and rising pages continue from the ranking as it is when
asked). Archives (section 4) belong to ``routes_archives``. ``Cursor`` is also the keyset of ``/api/items``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from .errors import QueryError
from .filters import Filter
from .views import FeedLink, ItemView

CURSOR_PARAM = "before"
MAX_CURSOR_LENGTH = 80  # an encoded cursor is about 40 characters


@dataclass(frozen=True)
class Cursor:
    published: datetime
    id: int
    rank: int | None = None  # popular and rising pages: the last item's count or growth

    def encode(self) -> str:
        rank = "" if self.rank is None else f"|{self.rank}"
        raw = f"{self.published.strftime('%Y-%m-%dT%H:%M:%S.%f')}|{self.id}{rank}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        """Raises: QueryError: not a cursor this server made."""
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            when, ident, *ranked = raw.split("|")
            item_id = int(ident)
            rank = int(ranked[0]) if len(ranked) == 1 else None
            if not 0 < item_id < 2**63 or len(ranked) > 1 or not -(2**31) <= (rank or 0) < 2**31:
                raise ValueError("item id or rank out of range")
            return cls(datetime.fromisoformat(when).replace(tzinfo=UTC), item_id, rank)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise QueryError("cursor", "not a valid cursor") from exc


def take_cursor(params: dict[str, list[str]]) -> Cursor | None:
    """Take the page's cursor out of the query parameters.

    Raises:
        QueryError: given twice, empty, too long, or not a cursor this server made.
    """
    values = params.pop(CURSOR_PARAM, None)
    if values is None:
        return None
    if len(values) > 1:
        raise QueryError(CURSOR_PARAM, "may be given only once")
    if not values[0] or len(values[0]) > MAX_CURSOR_LENGTH:
        raise QueryError(CURSOR_PARAM, f"must be 1 to {MAX_CURSOR_LENGTH} characters")
    try:
        return Cursor.decode(values[0])
    except QueryError as exc:
        raise QueryError(CURSOR_PARAM, exc.message) from exc


def rank_of(flt: Filter, item: ItemView) -> int | None:
    """What the next page continues after, besides (published, id): the count or the growth."""
    return {"recent": None, "popular": item.bookmark_count, "rising": item.growth}[flt.sort]


def next_link(self_url: str, flt: Filter, last: ItemView) -> FeedLink:
    """The link to the page after the one that ends with ``last``, in the order ``flt`` asks for."""
    cursor = Cursor(last.published, last.id, rank_of(flt, last))
    return FeedLink("next", with_cursor(self_url, cursor.encode()))


def page_links(
    self_url: str, flt: Filter, found: Sequence[ItemView], cursor: Cursor | None
) -> tuple[Sequence[ItemView], tuple[FeedLink, ...]]:
    """The page's items and links, from ``found``: up to one item more than ``flt.limit``.

    A ``next`` link when that one more item exists; on a page after the first, a
    ``first`` and a ``current`` link to the unpaged feed.
    """
    page = found[: flt.limit]
    links: list[FeedLink] = []
    if cursor is not None:
        unpaged = with_cursor(self_url, None)
        links += [FeedLink("first", unpaged), FeedLink("current", unpaged)]
    if len(found) > flt.limit and page:
        links.append(next_link(self_url, flt, page[-1]))
    return page, tuple(links)


def with_cursor(url: str, cursor: str | None) -> str:
    """``url`` with its cursor parameter replaced by ``cursor``, or removed; the rest kept as written."""
    base, _, query = url.partition("?")
    kept = [p for p in query.split("&") if p and unquote_plus(p.partition("=")[0]) != CURSOR_PARAM]
    if cursor is not None:
        kept.append(f"{CURSOR_PARAM}={cursor}")
    return f"{base}?{'&'.join(kept)}" if kept else base
