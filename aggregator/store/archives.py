"""Reads for archive documents: a filter's items by the time they were first stored.

The filter's items are the same as a feed's (``slices.slice_statement``, with no
limit), taken by ``item.first_seen`` instead of newest first: every item first
seen in a period, whether any was first seen before a time, and the oldest
``first_seen`` of all. Which periods there are
belongs to ``aggregator.archives``; the routes to ``api.routes_archives``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from ..filters import Filter
from ..models import Item, table_of
from ..views import ItemView
from .common import wrap_storage_errors
from .itemviews import item_views
from .slices import slice_statement

ITEM = table_of(Item)
UNBOUNDED = 2**62  # a limit no output reaches: every item of the filter


def _members(conn: Connection, flt: Filter) -> Select[Any] | None:
    """Every item of ``flt``, unordered; None when the filter can match nothing."""
    query = slice_statement(conn, replace(flt, limit=UNBOUNDED))
    return None if query is None else query.order_by(None).limit(None)


@wrap_storage_errors()
def select_first_seen(conn: Connection, flt: Filter, start: datetime, end: datetime) -> list[ItemView]:
    """Every item of ``flt`` first seen from ``start`` until ``end``, the latest first."""
    members = _members(conn, flt)
    if members is None:
        return []
    query = members.where(ITEM.c.first_seen >= start, ITEM.c.first_seen < end).order_by(
        ITEM.c.first_seen.desc(), ITEM.c.id.desc()
    )
    return item_views(conn, list(conn.execute(query).mappings()))


@wrap_storage_errors()
def has_first_seen_before(conn: Connection, flt: Filter, when: datetime) -> bool:
    """True when an item of ``flt`` was first stored before ``when``: one row, not the oldest."""
    members = _members(conn, flt)
    if members is None:
        return False
    query = members.with_only_columns(ITEM.c.id).where(ITEM.c.first_seen < when).limit(1)
    return conn.execute(query).first() is not None


@wrap_storage_errors()
def oldest_first_seen(conn: Connection, flt: Filter) -> datetime | None:
    """When the oldest item of ``flt`` was first stored; None when it has no items."""
    members = _members(conn, flt)
    if members is None:
        return None
    found = members.with_only_columns(ITEM.c.first_seen).subquery()
    oldest: datetime | None = conn.execute(select(func.min(found.c.first_seen))).scalar()
    return oldest
