"""Why an item is or is not in a slice: ``explain_item`` answers ``/api/explain``.

Each term of the ``filter`` query is evaluated by the database, as the slice itself
evaluates it (``store.filtersql``'s condition with ``item.id`` fixed), never by a second
reading in Python; what is gathered here in Python is only the evidence shown next to the
answer: the sources that gave a tag, the sighting of a user, the count, the matching fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import false, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from ..filters import Filter
from ..models import Item, table_of
from ..query import Expr, Not, Or, Term
from ..views import PUBLIC, Audience, Sighted
from .audience import item_condition, present
from .common import wrap_storage_errors
from .filtersql import compile_query
from .provenance import item_sightings
from .slices import slice_statement
from .textindex import TEXT_COLUMNS, text_predicate

ITEM = table_of(Item)


@dataclass(frozen=True)
class TermTruth:
    """One term of the query for one item: ``matches`` the term itself, ``holds`` once its ``-`` applies."""

    term: Term
    negated: bool
    matches: bool
    evidence: dict[str, Any]

    @property
    def holds(self) -> bool:
        return self.matches != self.negated


@dataclass(frozen=True)
class Explanation:
    item_id: int
    title: str
    link: str | None
    in_slice: bool
    terms: tuple[TermTruth, ...]


@wrap_storage_errors()
def explain_item(conn: Connection, flt: Filter, ref: str, audience: Audience = PUBLIC) -> Explanation | None:
    """Whether item ``ref`` (an id or a link) is in the slice, and each term's truth, from what
    ``audience`` may see; None: no such item (for the public, none a public source brought)."""
    row = _find(conn, ref, audience)
    if row is None:
        return None
    item_id = int(row["id"])
    sightings = item_sightings(conn, item_id, audience=audience)
    truths = []
    for term, negated in _leaves(flt.expr, False):
        evidence = _evidence(term, row, sightings)
        if term.kind == "text":
            evidence = {"fields": _text_fields(conn, str(term.value), item_id)}
        holds = _holds(conn, compile_query(conn, term, audience), item_id)
        truths.append(TermTruth(term, negated, holds, evidence))
    in_slice = _in_slice(conn, flt, item_id, audience)
    return Explanation(item_id, row["title"], row["link"], in_slice, tuple(truths))


def _find(conn: Connection, ref: str, audience: Audience) -> Any:
    ref = ref.strip()
    if ref.isdigit() and int(ref) < 2**63:
        found = ITEM.c.id == int(ref)
    else:
        found = or_(ITEM.c.link == ref, ITEM.c.key == ref)
    query = select(ITEM).where(found, *present(item_condition(audience))).order_by(ITEM.c.id).limit(1)
    return conn.execute(query).mappings().first()


def _in_slice(conn: Connection, flt: Filter, item_id: int, audience: Audience) -> bool:
    # Any of several tags is read as a merge of per-tag newest ranges: tested as one condition instead.
    statement = slice_statement(conn, replace(flt, any_tags=(), limit=1), audience=audience)
    if statement is None:
        return False
    if flt.any_tags:
        either = Or(tuple(Term("tag", tag, 0, f"tag:{tag}") for tag in flt.any_tags))
        statement = statement.where(compile_query(conn, either, audience))
    return conn.execute(statement.where(ITEM.c.id == item_id)).first() is not None


def _holds(conn: Connection, condition: ColumnElement[bool], item_id: int) -> bool:
    query = select(func.coalesce(condition, false())).select_from(ITEM).where(ITEM.c.id == item_id)
    return bool(conn.execute(query).scalar())


def _leaves(expr: Expr | None, negated: bool) -> list[tuple[Term, bool]]:
    if expr is None:
        return []
    if isinstance(expr, Term):
        return [(expr, negated)]
    if isinstance(expr, Not):
        return _leaves(expr.operand, not negated)
    return [leaf for e in expr.operands for leaf in _leaves(e, negated)]


def _label(sighting: Sighted) -> str:
    return f"{sighting.source.title} ({sighting.source.kind})"


def _evidence(term: Term, item: Any, sightings: Sequence[Sighted]) -> dict[str, Any]:
    kind, value = term.kind, term.value
    if kind == "tag":
        given = [s for s in sightings if value in s.tag_names]
        return {"tag": value, "sources": [_label(s) for s in given]}
    if kind == "source":
        return {"sources": [_label(s) for s in sightings if value in (str(s.source.id), s.source.url)]}
    if kind == "user":
        said = [s for s in sightings if s.source.user == value]
        return {
            "sightings": [
                {
                    "source": _label(s),
                    "user": s.source.user,
                    "comment": s.source.comment,
                    "at": _iso(s.said_at),
                }
                for s in said
            ]
        }
    if kind == "site":
        return {"site": item["site"]}
    if kind == "bookmarks":
        return {"count": item["bookmark_count"]}
    if kind == "date":
        return {"published": _iso(item["published"])}
    if kind == "intitle":
        return {"title": item["title"]}
    if kind == "author":
        return {"author": item["author"]}
    return {}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _text_fields(conn: Connection, value: str, item_id: int) -> list[str]:
    """Which of the title, summary and content contain ``value``, as the database reads ``text_predicate``."""
    checks = [func.coalesce(text_predicate(value, (name,)), false()).label(name) for name in TEXT_COLUMNS]
    row = conn.execute(select(*checks).where(ITEM.c.id == item_id)).first()
    return [name for name, hit in zip(TEXT_COLUMNS, row or (), strict=True) if hit]
