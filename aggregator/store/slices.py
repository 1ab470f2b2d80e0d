"""Reads: a filtered slice of items, tag counts, and source health.

A slice with a required tag is read from the item-tag link table's
(tag, published) index, newest first, so "newest 50 with tag X" stays an index
range however many items there are. A site is a range of ``item.site_key`` (the
host's labels reversed, so its subdomains share the prefix), read from the
(site_key, published) index; a bookmark threshold is a range of the
(bookmark_count, published) index. ``tests/test_store_slices_plan.py`` EXPLAINs each shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, tuple_, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Select

from ..errors import is_category
from ..filters import Filter
from ..models import Item, ItemTag, Sighting, Source, Tag, table_of
from ..paging import Cursor
from ..views import PUBLIC, Audience, ItemView, SourceView, TagCount, is_poll_status
from .audience import item_condition, link_condition, present, source_condition
from .common import MAX_SOURCE_ID, tag_ids, wrap_storage_errors
from .filtersql import compile_query, hoist
from .itemviews import item_views
from .ordering import order_slice
from .ranges import ranges_of, rarest_first, steer_sqlite
from .textindex import steer_text_sqlite, text_predicate, trigram_predicate

ITEM = table_of(Item)
ITEM_TAG = table_of(ItemTag)
TAG = table_of(Tag)
SIGHTING = table_of(Sighting)
SOURCE = table_of(Source)


@wrap_storage_errors()
def select_slice(
    conn: Connection, flt: Filter, *, after: Cursor | None = None, audience: Audience = PUBLIC
) -> list[ItemView]:
    """The newest items matching ``flt`` (``flt.limit`` of them) that ``audience`` may see, with tags
    and sources."""
    query = slice_statement(conn, flt, after=after, audience=audience)
    if query is None:
        return []
    rows = list(conn.execute(query).mappings())
    return item_views(conn, rows, audience)


@wrap_storage_errors()
def slice_statement(
    conn: Connection, flt: Filter, *, after: Cursor | None = None, audience: Audience = PUBLIC
) -> Select[Any] | None:
    """The item query ``select_slice`` runs for ``flt``, or ``None`` when the slice is known empty.

    It reads tag and source ids (small lookups) but not the items; the plan tests EXPLAIN it.
    """
    flt = hoist(flt)
    if flt.is_empty_slice():
        return None
    known = tag_ids(conn, set(flt.tags) | set(flt.any_tags) | set(flt.not_tags))
    if any(t not in known for t in flt.tags) or (flt.any_tags and not any(t in known for t in flt.any_tags)):
        return None
    source_ids = _source_ids(conn, flt.sources, audience)
    if flt.sources and not source_ids:
        return None
    if len(flt.tags) > 1:
        flt = replace(flt, tags=rarest_first(conn, known, flt.tags, flt.limit))
    ranges = [r.condition() for r in ranges_of(flt)]
    if ranges and not (flt.tags or flt.any_tags) and conn.dialect.name == "sqlite":
        ranges = steer_sqlite(conn, ranges_of(flt), flt.limit)
    matches = None
    if flt.q:
        sqlite = conn.dialect.name == "sqlite"
        matches = steer_text_sqlite(conn, flt.q, flt.limit) if sqlite else trigram_predicate(flt.q)
    residual = compile_query(conn, flt.expr, audience, flt.limit) if flt.expr is not None else None
    return _slice_query(flt, known, source_ids, after, ranges, matches, audience, residual)


def _slice_query(
    flt: Filter,
    tag_ids: dict[str, int],
    source_ids: list[int],
    after: Cursor | None,
    ranges: Sequence[ColumnElement[bool]] | None = None,
    matches: ColumnElement[bool] | None = None,
    audience: Audience = PUBLIC,
    residual: ColumnElement[bool] | None = None,
) -> Select[Any]:
    if flt.any_tags and not flt.tags and flt.sort == "recent":
        return _merged_any_tags(flt, tag_ids, source_ids, after, ranges, matches, audience, residual)
    conditions: list[ColumnElement[bool]] = present(item_condition(audience))
    if flt.tags:
        first, *rest = (tag_ids[t] for t in flt.tags)
        query = select(ITEM).join(ITEM_TAG, and_(ITEM_TAG.c.item_id == ITEM.c.id, ITEM_TAG.c.tag_id == first))
        order_published = ITEM_TAG.c.published
        conditions += present(link_condition(audience))
        conditions += [_has_tag([t], audience) for t in rest]
    else:
        query = select(ITEM)
        order_published = ITEM.c.published
    if flt.any_tags:
        conditions.append(_has_tag([tag_ids[t] for t in flt.any_tags if t in tag_ids], audience))
    excluded = [tag_ids[t] for t in flt.not_tags if t in tag_ids]
    if excluded:
        conditions.append(~_has_tag(excluded, audience))
    # Sites (the host and its subdomains: a range of (site_key, published)) and bookmarks.
    conditions += [r.condition() for r in ranges_of(flt)] if ranges is None else ranges
    if source_ids:
        conditions.append(
            exists().where(SIGHTING.c.item_id == ITEM.c.id, SIGHTING.c.source_id.in_(source_ids))
        )
    if flt.q:
        conditions.append(text_predicate(flt.q) if matches is None else matches)
    if residual is not None:
        conditions.append(residual)  # the rest of a ``filter`` query (store.filtersql)
    if flt.since:
        conditions.append(order_published >= flt.since)
    if flt.until:
        conditions.append(order_published < flt.until)
    if flt.sort != "recent":
        ranked = (after.rank, after.published, after.id) if after and after.rank is not None else None
        return order_slice(query.where(*conditions), flt, ranked, audience)
    if after:
        # Typed like the columns, so the cursor time is bound as naive UTC (not as timestamptz).
        cursor = tuple_(after.published, after.id, types=[order_published.type, ITEM.c.id.type])
        conditions.append(tuple_(order_published, ITEM.c.id) < cursor)
    return query.where(*conditions).order_by(order_published.desc(), ITEM.c.id.desc()).limit(flt.limit)


def _merged_any_tags(
    flt: Filter,
    tag_ids: dict[str, int],
    source_ids: list[int],
    after: Cursor | None,
    ranges: Sequence[ColumnElement[bool]] | None,
    matches: ColumnElement[bool] | None,
    audience: Audience,
    residual: ColumnElement[bool] | None,
) -> Select[Any]:
    """Any of the tags: the newest ``limit`` of each tag (one range of its index), merged and deduplicated."""
    branches = []
    for tag in (t for t in flt.any_tags if t in tag_ids):
        one_query = _slice_query(
            replace(flt, tags=(tag,), any_tags=()),
            tag_ids,
            source_ids,
            after,
            ranges,
            matches,
            audience,
            residual,
        )
        newest = one_query.with_only_columns(ITEM.c.id, ITEM_TAG.c.published).subquery()
        branches.append(select(newest.c.id, newest.c.published))
    merged = union_all(*branches).subquery()
    order = (merged.c.published.desc(), merged.c.id.desc())
    top = select(merged.c.id, merged.c.published).distinct().order_by(*order).limit(flt.limit).subquery()
    return (
        select(ITEM)
        .join(top, top.c.id == ITEM.c.id)
        .order_by(ITEM.c.published.desc(), ITEM.c.id.desc())
        .limit(flt.limit)
    )


def _has_tag(tag_ids: Sequence[int], audience: Audience) -> Any:
    # An alias: a query that already joins item_tag must not correlate this subquery's FROM away.
    link = ITEM_TAG.alias()
    public = link_condition(audience, link)
    return exists().where(link.c.item_id == ITEM.c.id, link.c.tag_id.in_(tag_ids), *present(public))


def _source_ids(conn: Connection, refs: Sequence[str], audience: Audience) -> list[int]:
    """The ids of the named sources ``audience`` may see: a private source is unknown to the public."""
    if not refs:
        return []
    ids = [i for i in (int(r) for r in refs if r.isdigit()) if i <= MAX_SOURCE_ID]
    urls = [r for r in refs if not r.isdigit()]
    visible = source_condition(audience)
    query = select(SOURCE.c.id).where(or_(SOURCE.c.id.in_(ids), SOURCE.c.url.in_(urls)), *present(visible))
    return [int(i) for i in conn.execute(query).scalars()]


@wrap_storage_errors()
def tag_counts(conn: Connection, *, limit: int = 200, audience: Audience = PUBLIC) -> list[TagCount]:
    """Tags by number of items ``audience`` sees them on, most used first."""
    count = func.count(ITEM_TAG.c.item_id)
    public = link_condition(audience)
    query = (
        select(TAG.c.name, TAG.c.display, count.label("n"))
        .join(ITEM_TAG, ITEM_TAG.c.tag_id == TAG.c.id)
        .where(*present(public))
        .group_by(TAG.c.id, TAG.c.name, TAG.c.display)
        .order_by(count.desc(), TAG.c.name)
        .limit(limit)
    )
    return [TagCount(n, d, int(c)) for n, d, c in conn.execute(query)]


@wrap_storage_errors()
def source_rows(conn: Connection, *, audience: Audience = PUBLIC) -> list[SourceView]:
    """The sources ``audience`` may see listed, with health and item count (``aggregator sources``
    reads them all, ``/api/sources`` and ``/`` the public ones)."""
    counts: dict[int, int] = {
        int(source_id): int(n)
        for source_id, n in conn.execute(
            select(SIGHTING.c.source_id, func.count()).group_by(SIGHTING.c.source_id)
        )
    }
    visible = source_condition(audience)
    query = select(SOURCE).where(*present(visible)).order_by(SOURCE.c.id)
    return [_source_view(row, counts.get(row["id"], 0)) for row in conn.execute(query).mappings()]


def _source_view(row: Any, items: int) -> SourceView:
    status, category = row["last_status"], row["error_category"]
    return SourceView(
        **{
            **row,
            "tags": tuple(row["tags"] or ()),
            "last_status": status if is_poll_status(status) else None,
            "error_category": category if is_category(category) else None,
        },
        items=int(items),
    )


@wrap_storage_errors()
def item_count(conn: Connection, *, audience: Audience = PUBLIC) -> int:
    """How many items ``audience`` may see."""
    visible = item_condition(audience)
    query = select(func.count()).select_from(ITEM).where(*present(visible))
    return int(conn.execute(query).scalar() or 0)
