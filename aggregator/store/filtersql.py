"""A ``filter`` query as SQL: ``hoist`` moves the terms a slice's indexes serve into the ``Filter``'s
fields; ``compile_query`` turns the rest into one boolean condition on ``item``.

The condition is two-valued: a term is true or false for every item, never NULL (a
missing bookmark count or author is "no match"), so ``-term`` holds exactly where
``term`` does not. Tags and sources are looked up first (a small read); an unknown one
matches nothing. What each term means is written in the README's filter section;
``tests/test_store_filtersql_oracle.py`` checks it against a plain evaluation in Python.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TypeGuard

from sqlalchemy import and_, false, func, not_, or_, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from ..filters import DEFAULT_LIMIT, Filter
from ..identity import site_key_range
from ..models import Item, ItemTag, Sighting, Source, Tag, table_of
from ..query import And, Bounds, Expr, Not, Or, Term, terms_of
from ..views import PUBLIC, Audience
from .audience import link_condition, present, said_condition, source_condition
from .common import MAX_SOURCE_ID, tag_ids, wrap_storage_errors
from .textindex import (
    _escape_like,
    _has_fts,
    is_trigram_query,
    steer_text_sqlite,
    text_predicate,
    trigram_predicate,
)

ITEM = table_of(Item)
ITEM_TAG = table_of(ItemTag)
TAG = table_of(Tag)
SIGHTING = table_of(Sighting)
SOURCE = table_of(Source)


def hoist(flt: Filter) -> Filter:
    """``flt`` with the top-level positive terms its fields can hold moved into them (same slice).

    Required and excluded tags, any of several tags (an ``OR`` of tags alone), sites, one
    source, a bookmark floor, a date range and one text term then take the index paths a
    slice has for those fields.
    """
    if flt.expr is None:
        return flt
    rest: list[Expr] = []
    for part in flt.expr.operands if isinstance(flt.expr, And) else (flt.expr,):
        moved = _hoisted(flt, part)
        if moved is None:
            rest.append(part)
        else:
            flt = moved
    expr = None if not rest else rest[0] if len(rest) == 1 else And(tuple(rest))
    return replace(flt, expr=expr)


def _hoisted(flt: Filter, part: Expr) -> Filter | None:
    if isinstance(part, Not) and isinstance(part.operand, Term) and part.operand.kind == "tag":
        return replace(flt, not_tags=(*flt.not_tags, str(part.operand.value)))
    if isinstance(part, Or) and not flt.any_tags and all(_is_tag(e) for e in part.operands):
        # Any of these tags: a merge of one (tag, published) range per tag.
        return replace(flt, any_tags=tuple(dict.fromkeys(str(e.value) for e in part.operands if _is_tag(e))))
    if not isinstance(part, Term):
        return None
    value = part.value
    if part.kind == "tag":
        return replace(flt, tags=tuple(dict.fromkeys((*flt.tags, str(value)))))
    if part.kind == "site":
        return replace(flt, sites=tuple(dict.fromkeys((*flt.sites, str(value)))))
    if part.kind == "source" and not flt.sources:
        return replace(flt, sources=(str(value),))
    if part.kind == "text" and not flt.q:
        return replace(flt, q=str(value))
    if part.kind == "bookmarks" and isinstance(value, Bounds) and value.high is None:
        assert isinstance(value.low, int)  # a floor of 0 still excludes items without a count: kept
        return replace(flt, min_bookmarks=max(flt.min_bookmarks or 0, value.low)) if value.low else None
    if part.kind == "date" and isinstance(value, Bounds):
        since, until = value.low, value.high
        assert not isinstance(since, int) and not isinstance(until, int)
        return replace(flt, since=_later(flt.since, since), until=_earlier(flt.until, until))
    return None


def _is_tag(expr: Expr) -> TypeGuard[Term]:
    return isinstance(expr, Term) and expr.kind == "tag"


@wrap_storage_errors()
def compile_query(
    conn: Connection, expr: Expr, audience: Audience = PUBLIC, limit: int = DEFAULT_LIMIT
) -> ColumnElement[bool]:
    """The condition on ``item`` that holds exactly for the items ``expr`` matches, reading only what
    ``audience`` may see (for the public: public tag links, what public sources said). On SQLite a
    text term uses the FTS table only when it has fewer candidates than a slice of ``limit`` walks."""
    return _Compiler(conn, expr, audience, limit).condition(expr)


class _Compiler:
    def __init__(self, conn: Connection, expr: Expr, audience: Audience, limit: int) -> None:
        terms = terms_of(expr)
        self.conn, self.audience, self.limit = conn, audience, limit
        self.postgres = conn.dialect.name == "postgresql"
        self.fts = not self.postgres and _has_fts(conn)
        names = {str(t.value) for t in terms if t.kind == "tag"}
        self.tags = tag_ids(conn, names)
        refs = [str(t.value) for t in terms if t.kind == "source"]
        self.sources = _lookup_sources(conn, refs, audience)

    def condition(self, expr: Expr) -> ColumnElement[bool]:
        if isinstance(expr, Not):
            # NOT of a NULL is NULL: a term that is unknown for an item counts as false first.
            return not_(func.coalesce(self.condition(expr.operand), false()))
        if isinstance(expr, And):
            return and_(*(self.condition(e) for e in expr.operands))
        if isinstance(expr, Or):
            return or_(*(self.condition(e) for e in expr.operands))
        return self.term(expr)

    def term(self, term: Term) -> ColumnElement[bool]:
        value = term.value
        if isinstance(value, Bounds):
            column = ITEM.c.bookmark_count if term.kind == "bookmarks" else ITEM.c.published
            return _within(column, value)
        if term.kind == "tag":
            tag_id = self.tags.get(value)
            if tag_id is None:
                return false()
            # Aliases: a slice that joins item_tag must not correlate the subquery's FROM away.
            link = ITEM_TAG.alias()
            visible = present(link_condition(self.audience, link))
            return ITEM.c.id.in_(select(link.c.item_id).where(link.c.tag_id == tag_id, *visible))
        if term.kind == "site":
            low, high = site_key_range(value)
            return and_(ITEM.c.site_key >= low, ITEM.c.site_key < high)
        if term.kind == "source":
            ids = self.sources.get(value, [])
            if not ids:
                return false()
            seen = SIGHTING.alias()
            return ITEM.c.id.in_(select(seen.c.item_id).where(seen.c.source_id.in_(ids)))
        if term.kind == "user":
            seen = SIGHTING.alias()
            visible = present(said_condition(self.audience, seen))
            return ITEM.c.id.in_(select(seen.c.item_id).where(seen.c.user == value, *visible))
        if term.kind in ("intitle", "author"):
            column = ITEM.c.title if term.kind == "intitle" else ITEM.c.author
            pattern = "%" + _escape_like(value.lower()) + "%"
            contains = and_(column.is_not(None), func.lower(column).like(pattern, escape="\\"))
            if term.kind == "intitle" and self.fts and is_trigram_query(value):
                # SQLite: the FTS table's title column finds few candidates; many, and the walk of
                # the date index meets the limit sooner. The predicate decides either way.
                return and_(column.is_not(None), steer_text_sqlite(self.conn, value, self.limit, ("title",)))
            return contains
        if self.postgres:
            return trigram_predicate(value)
        return steer_text_sqlite(self.conn, value, self.limit) if self.fts else text_predicate(value)


def _within(column: ColumnElement[object], bounds: Bounds) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = [column.is_not(None)]
    if bounds.low is not None:
        parts.append(column >= bounds.low)
    if bounds.high is not None:
        parts.append(column < bounds.high)
    return and_(*parts) if len(parts) > 1 else true()


def _lookup_sources(conn: Connection, refs: list[str], audience: Audience) -> dict[str, list[int]]:
    """The ids each reference names among the sources ``audience`` may see (a private one is unknown
    to the public)."""
    visible = present(source_condition(audience))
    found: dict[str, list[int]] = {}
    for ref in dict.fromkeys(refs):
        if ref.isdigit() and int(ref) > MAX_SOURCE_ID:
            found[ref] = []  # source.id is a 32-bit INTEGER on PostgreSQL: no larger id exists
            continue
        if ref.isdigit():
            query = select(SOURCE.c.id).where(SOURCE.c.id == int(ref), *visible)
        else:
            query = select(SOURCE.c.id).where(SOURCE.c.url == ref, *visible)
        found[ref] = [int(i) for i in conn.execute(query).scalars()]
    return found


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(x for x in (a, b) if x) if (a or b) else None


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(x for x in (a, b) if x) if (a or b) else None
