"""Pure: each term's value checked and normalized, as the filter parameters' values are.

``check_values`` walks a parsed tree and replaces every term's value: a tag normalized
(aliases applied), a host normalized, a count or a date turned into ``Bounds``. How a tag,
host, source, count or date is validated belongs to the caller (``filters``), which passes
its own functions in ``Checks``; here is the operator syntax (``>=100``, ``100..500``) and
which position an error points at.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from ..errors import FilterError, QueryError
from .syntax import And, Bounds, Expr, Not, Or, Term

MAX_TEXT = 200
_COMPARISON = re.compile(r"^(>=|<=|>|<|=)?(.+)$", re.S)
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TICK = timedelta(microseconds=1)  # what stored times are counted in
T = TypeVar("T", int, datetime)


@dataclass(frozen=True)
class Checks:
    """The caller's validators; each raises ``QueryError`` on a bad value."""

    tag: Callable[[str], str]
    site: Callable[[str], str]
    source: Callable[[str], str]
    count: Callable[[str], int]
    when: Callable[[str], datetime]


def check_values(expr: Expr, checks: Checks, query: str) -> Expr:
    """The tree with every term's value validated and normalized.

    Raises:
        FilterError: a bad value, at the position of the term's value.
    """
    if isinstance(expr, Not):
        return Not(check_values(expr.operand, checks, query))
    if isinstance(expr, And):
        return And(tuple(check_values(e, checks, query) for e in expr.operands))
    if isinstance(expr, Or):
        return Or(tuple(check_values(e, checks, query) for e in expr.operands))
    at = expr.position + (0 if expr.kind == "text" else expr.text.find(":") + 1 or 1)
    assert isinstance(expr.value, str)
    try:
        value = _check(expr.kind, expr.value, checks)
    except QueryError as exc:
        raise FilterError(query, at, f"{expr.kind}: {exc.message}") from None
    return Term(expr.kind, value, expr.position, expr.text)


def _check(kind: str, raw: str, checks: Checks) -> str | Bounds:
    if kind == "tag":
        return checks.tag(raw)
    if kind == "site":
        return checks.site(raw)
    if kind == "source":
        return checks.source(raw)
    if kind == "bookmarks":
        return _bounds(raw, checks.count, lambda n, day: n + 1)
    if kind == "date":
        return _bounds(raw, checks.when, _next_instant, bare=">=")
    text = raw.strip()
    if not text:
        raise QueryError(kind, "empty value")
    if len(text) > MAX_TEXT:
        raise QueryError(kind, f"longer than {MAX_TEXT} characters")
    return text


def _next_instant(when: datetime, day: bool) -> datetime:
    return when + (timedelta(days=1) if day else _TICK)


def _bounds(raw: str, parse: Callable[[str], T], after: Callable[[T, bool], T], bare: str = "=") -> Bounds:
    """``>=a``, ``>a``, ``<a``, ``<=a``, ``=a``, ``a..b`` (both included), ``a..``, ``..b``; a bare value
    means ``bare``. A day (``2024-05-01``) stands for the whole day; any other value for one point."""
    text = raw.strip()
    if ".." in text:
        first, _, last = text.partition("..")
        if not first and not last:
            raise QueryError("range", "expected a value on at least one side of '..'")
        low = parse(first) if first else None
        high = after(parse(last), _is_day(last)) if last else None
        return Bounds(low, high)
    match = _COMPARISON.match(text)
    if not match:
        raise QueryError("value", "expected a value")
    op, value = match.group(1) or bare, match.group(2)
    point, day = parse(value), _is_day(value)
    if op == ">=":
        return Bounds(point, None)
    if op == ">":
        return Bounds(after(point, day), None)
    if op == "<":
        return Bounds(None, point)
    if op == "<=":
        return Bounds(None, after(point, day))
    return Bounds(point, after(point, day))


def _is_day(text: str) -> bool:
    return bool(_DAY.match(text.strip()))
