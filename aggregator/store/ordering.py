"""The popular and rising orders of a slice, in SQL (``aggregator.sorts`` says what they mean).

``order_slice`` takes the slice's query, already narrowed by the filter, and orders,
pages and limits it. Popular reads ``item.bookmark_count`` (its (bookmark_count, published)
index, walked from the top, when nothing else narrows the slice). Rising finds its
candidates in the window's range of ``ix_bookmark_point_at`` (only items with a point in
the window can have grown), then reads each candidate's newest point per source at the
window's end and start from the primary key (item_id, source_id, at), ranked per source
with ``row_number()`` rather than joined back. Both orders keyset-page on (rank, published,
id): a later page is read against the ranking as it is then, so an item whose rank moved
between two pages may show twice or not at all (a snapshot per page, not per paging).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, tuple_
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.selectable import Subquery

from ..filters import Filter
from ..models import BookmarkPoint, Item, table_of
from ..views import PUBLIC, Audience
from .audience import present, said_condition

ITEM = table_of(Item)
POINT = table_of(BookmarkPoint)
Rank = tuple[int, datetime, int]  # the last item of a page: its rank, published and id


def order_slice(
    query: Select[Any], flt: Filter, after: Rank | None, audience: Audience = PUBLIC
) -> Select[Any]:
    """``query`` in ``flt.sort`` order (popular or rising), after ``after``, at most ``flt.limit`` rows;
    a rising order counts only the points ``audience`` may see."""
    if flt.sort == "rising":
        query, rank = _with_growth(query, flt, present(said_condition(audience, POINT)))
    else:
        rank = ITEM.c.bookmark_count
        query = query.where(rank.is_not(None))
    if after is not None:
        # Typed like the columns, so the cursor time is bound as naive UTC (not as timestamptz).
        key = tuple_(*after, types=[rank.type, ITEM.c.published.type, ITEM.c.id.type])
        query = query.where(tuple_(rank, ITEM.c.published, ITEM.c.id) < key)
    return query.order_by(rank.desc(), ITEM.c.published.desc(), ITEM.c.id.desc()).limit(flt.limit)


def _with_growth(
    query: Select[Any], flt: Filter, counted: list[ColumnElement[bool]]
) -> tuple[Select[Any], ColumnElement[Any]]:
    """The items that grew in the window, with their growth as the ``growth`` column."""
    if flt.as_of is None:
        raise ValueError("a rising slice counts back from Filter.as_of, which is not set")
    end = flt.as_of
    start = end - timedelta(seconds=flt.window)
    moved = (
        select(POINT.c.item_id, func.min(POINT.c.count).label("low"))
        .where(POINT.c.at > start, POINT.c.at <= end, *counted)
        .group_by(POINT.c.item_id)
        .subquery("moved")
    )
    now = _newest_counts(moved, end, "now", counted)
    before = _newest_counts(moved, start, "before", counted)
    base = func.coalesce(before.c.count, case((ITEM.c.published > start, 0), else_=moved.c.low))
    growth = now.c.count - base
    query = (
        query.join(moved, moved.c.item_id == ITEM.c.id)
        .join(now, now.c.item_id == ITEM.c.id)
        .outerjoin(before, before.c.item_id == ITEM.c.id)
        .add_columns(growth.label("growth"))
        .where(growth > 0)
    )
    return query, growth


def _newest_counts(
    moved: Subquery, bound: datetime, name: str, counted: list[ColumnElement[bool]]
) -> Subquery:
    """Per moved item: the highest, over its sources, of each source's newest count at or before ``bound``."""
    newest_first = func.row_number().over(
        partition_by=(POINT.c.item_id, POINT.c.source_id), order_by=POINT.c.at.desc()
    )
    ranked = (
        select(POINT.c.item_id, POINT.c.count, newest_first.label("rn"))
        .where(POINT.c.item_id.in_(select(moved.c.item_id)), POINT.c.at <= bound, *counted)
        .subquery()
    )
    return (
        select(ranked.c.item_id, func.max(ranked.c.count).label("count"))
        .where(ranked.c.rn == 1)
        .group_by(ranked.c.item_id)
        .subquery(name)
    )
