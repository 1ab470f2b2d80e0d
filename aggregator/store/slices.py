"""Reads: a filtered slice of items, tag counts, and source health.

A slice with a required tag is read from the item-tag link table's
(tag, published) index, newest first, so "newest 50 with tag X" stays an index
range however many items there are. A site is a range of ``item.site_key`` (the
host's labels reversed, so its subdomains share the prefix), read from the
(site_key, published) index; a bookmark threshold is a range of the
(bookmark_count, published) index. ``tests/test_store_slices_plan.py`` EXPLAINs each shape.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, tuple_, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Select

from ..errors import QueryError, is_category
from ..filters import Filter
from ..models import Item, ItemTag, Sighting, Source, Tag, table_of
from ..views import Enclosure, ItemView, SourceRef, SourceView, TagCount, is_poll_status, source_label
from .common import wrap_storage_errors
from .filtersql import compile_query, hoist
from .ranges import ranges_of, rarest_first, steer_sqlite
from .textindex import steer_text_sqlite, text_predicate, trigram_predicate

ITEM = table_of(Item)
ITEM_TAG = table_of(ItemTag)
TAG = table_of(Tag)
SIGHTING = table_of(Sighting)
SOURCE = table_of(Source)
MAX_SOURCE_ID = 2**31 - 1  # source.id is a 32-bit INTEGER on PostgreSQL: no larger id exists


@dataclass(frozen=True)
class Cursor:
    published: datetime
    id: int

    def encode(self) -> str:
        raw = f"{self.published.strftime('%Y-%m-%dT%H:%M:%S.%f')}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        """Raises: QueryError: not a cursor this server made."""
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            when, ident = raw.split("|")
            item_id = int(ident)
            if not 0 < item_id < 2**63:
                raise ValueError("item id out of range")
            return cls(datetime.fromisoformat(when).replace(tzinfo=UTC), item_id)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise QueryError("cursor", "not a valid cursor") from exc


@wrap_storage_errors()
def select_slice(conn: Connection, flt: Filter, *, after: Cursor | None = None) -> list[ItemView]:
    """The newest items matching ``flt`` (``flt.limit`` of them), with tags and sources."""
    query = slice_statement(conn, flt, after=after)
    if query is None:
        return []
    rows = list(conn.execute(query).mappings())
    return _views(conn, rows)


@wrap_storage_errors()
def slice_statement(conn: Connection, flt: Filter, *, after: Cursor | None = None) -> Select[Any] | None:
    """The item query ``select_slice`` runs for ``flt``, or ``None`` when the slice is known empty.

    It reads tag and source ids (small lookups) but not the items; the plan tests EXPLAIN it.
    """
    flt = hoist(flt)
    if flt.is_empty_slice():
        return None
    tag_ids = _tag_ids(conn, set(flt.tags) | set(flt.any_tags) | set(flt.not_tags))
    if any(t not in tag_ids for t in flt.tags) or (
        flt.any_tags and not any(t in tag_ids for t in flt.any_tags)
    ):
        return None
    source_ids = _source_ids(conn, flt.sources)
    if flt.sources and not source_ids:
        return None
    if len(flt.tags) > 1:
        flt = replace(flt, tags=rarest_first(conn, tag_ids, flt.tags, flt.limit))
    ranges = [r.condition() for r in ranges_of(flt)]
    if ranges and not (flt.tags or flt.any_tags) and conn.dialect.name == "sqlite":
        ranges = steer_sqlite(conn, ranges_of(flt), flt.limit)
    matches = None
    if flt.q:
        sqlite = conn.dialect.name == "sqlite"
        matches = steer_text_sqlite(conn, flt.q, flt.limit) if sqlite else trigram_predicate(flt.q)
    residual = compile_query(conn, flt.expr) if flt.expr is not None else None
    return _slice_query(flt, tag_ids, source_ids, after, ranges, matches, residual)


def _slice_query(
    flt: Filter,
    tag_ids: dict[str, int],
    source_ids: list[int],
    after: Cursor | None,
    ranges: Sequence[ColumnElement[bool]] | None = None,
    matches: ColumnElement[bool] | None = None,
    residual: ColumnElement[bool] | None = None,
) -> Select[Any]:
    if flt.any_tags and not flt.tags:
        return _merged_any_tags(flt, tag_ids, source_ids, after, ranges, matches, residual)
    conditions: list[ColumnElement[bool]] = []
    if flt.tags:
        first, *rest = (tag_ids[t] for t in flt.tags)
        query = select(ITEM).join(ITEM_TAG, and_(ITEM_TAG.c.item_id == ITEM.c.id, ITEM_TAG.c.tag_id == first))
        order_published = ITEM_TAG.c.published
        conditions += [_has_tag([t]) for t in rest]
    else:
        query = select(ITEM)
        order_published = ITEM.c.published
    if flt.any_tags:
        conditions.append(_has_tag([tag_ids[t] for t in flt.any_tags if t in tag_ids]))
    excluded = [tag_ids[t] for t in flt.not_tags if t in tag_ids]
    if excluded:
        conditions.append(~_has_tag(excluded))
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
    residual: ColumnElement[bool] | None,
) -> Select[Any]:
    """Any of the tags: the newest ``limit`` of each tag (one range of its index), merged and deduplicated."""
    branches = []
    for tag in (t for t in flt.any_tags if t in tag_ids):
        one_query = _slice_query(
            replace(flt, tags=(tag,), any_tags=()), tag_ids, source_ids, after, ranges, matches, residual
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


def _has_tag(tag_ids: Sequence[int]) -> Any:
    # An alias: a query that already joins item_tag must not correlate this subquery's FROM away.
    link = ITEM_TAG.alias()
    return exists().where(link.c.item_id == ITEM.c.id, link.c.tag_id.in_(tag_ids))


def _tag_ids(conn: Connection, names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    return {n: int(i) for i, n in conn.execute(select(TAG.c.id, TAG.c.name).where(TAG.c.name.in_(names)))}


def _source_ids(conn: Connection, refs: Sequence[str]) -> list[int]:
    if not refs:
        return []
    ids = [i for i in (int(r) for r in refs if r.isdigit()) if i <= MAX_SOURCE_ID]
    urls = [r for r in refs if not r.isdigit()]
    query = select(SOURCE.c.id).where(or_(SOURCE.c.id.in_(ids), SOURCE.c.url.in_(urls)))
    return [int(i) for i in conn.execute(query).scalars()]


def _views(conn: Connection, rows: list[Any]) -> list[ItemView]:
    ids = [r["id"] for r in rows]
    if not ids:
        return []
    tags: dict[int, list[tuple[str, str]]] = {i: [] for i in ids}
    for item_id, name, display in conn.execute(
        select(ITEM_TAG.c.item_id, TAG.c.name, TAG.c.display)
        .join(TAG, TAG.c.id == ITEM_TAG.c.tag_id)
        .where(ITEM_TAG.c.item_id.in_(ids))
        .order_by(ITEM_TAG.c.item_id, TAG.c.name)
    ):
        tags[item_id].append((name, display))
    refs: dict[int, list[SourceRef]] = {i: [] for i in ids}
    for row in conn.execute(
        select(SIGHTING, SOURCE.c.url, SOURCE.c.title, SOURCE.c.feed_title, SOURCE.c.kind)
        .join(SOURCE, SOURCE.c.id == SIGHTING.c.source_id)
        .where(SIGHTING.c.item_id.in_(ids))
        .order_by(SIGHTING.c.item_id, SIGHTING.c.first_seen, SIGHTING.c.source_id)
    ).mappings():
        refs[row["item_id"]].append(
            SourceRef(
                id=row["source_id"],
                url=row["url"],
                title=source_label(row["url"], row["title"], row["feed_title"]),
                kind=row["kind"],
                user=row["user"],
                comment=row["comment"],
                seen=row["said_at"] or row["first_seen"],
            )
        )
    owners = {r["owner_source_id"] for r in rows if r["owner_source_id"] is not None}
    languages: dict[int, str | None] = {
        source_id: language
        for source_id, language in conn.execute(
            select(SOURCE.c.id, SOURCE.c.feed_language).where(SOURCE.c.id.in_(owners))
        )
    }
    return [
        ItemView(
            id=r["id"],
            key=r["key"],
            link=r["link"],
            title=r["title"],
            summary=r["summary"],
            content=r["content"],
            author=r["author"],
            published=r["published"],
            updated=r["updated"],
            first_seen=r["first_seen"],
            site=r["site"],
            bookmark_count=r["bookmark_count"],
            image=r["image"],
            tags=tuple(d for _, d in tags[r["id"]]),
            tag_names=tuple(n for n, _ in tags[r["id"]]),
            sources=tuple(refs[r["id"]]),
            enclosures=tuple(
                Enclosure(e["url"], e.get("type"), e.get("length"))
                for e in (r["enclosures"] or [])
                if e.get("url")
            ),
            version=r["version"],
            language=languages.get(r["owner_source_id"]),
        )
        for r in rows
    ]


@wrap_storage_errors()
def tag_counts(conn: Connection, *, limit: int = 200) -> list[TagCount]:
    """Tags by number of items, most used first."""
    count = func.count(ITEM_TAG.c.item_id)
    query = (
        select(TAG.c.name, TAG.c.display, count.label("n"))
        .join(ITEM_TAG, ITEM_TAG.c.tag_id == TAG.c.id)
        .group_by(TAG.c.id, TAG.c.name, TAG.c.display)
        .order_by(count.desc(), TAG.c.name)
        .limit(limit)
    )
    return [TagCount(n, d, int(c)) for n, d, c in conn.execute(query)]


@wrap_storage_errors()
def source_rows(conn: Connection) -> list[SourceView]:
    """Every source with its health and item count, for ``aggregator sources``, ``/api/sources``, ``/``."""
    counts: dict[int, int] = {
        int(source_id): int(n)
        for source_id, n in conn.execute(
            select(SIGHTING.c.source_id, func.count()).group_by(SIGHTING.c.source_id)
        )
    }
    return [
        _source_view(row, counts.get(row["id"], 0))
        for row in conn.execute(select(SOURCE).order_by(SOURCE.c.id)).mappings()
    ]


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
def item_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(ITEM)).scalar() or 0)
