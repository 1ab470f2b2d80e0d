"""Pure: a checked query written back out: ``canonical`` (normalized values, for cache keys and feed
ids), ``describe`` (as typed, for feed titles), ``terms_of`` (each term, in the order typed) and
``conjoin`` (two queries at once)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from .syntax import And, Bounds, Expr, Not, Term


def canonical(expr: Expr) -> str:
    """A stable string for the query: normalized values, instants in UTC, minimal parentheses."""
    return _write(expr, _canonical_term, 0)


def describe(expr: Expr) -> str:
    """The query as the user typed its terms, with the parentheses it needs."""
    return _write(expr, lambda t: t.text, 0)


def terms_of(expr: Expr) -> list[Term]:
    """Every term of the query, in the order typed."""
    if isinstance(expr, Term):
        return [expr]
    if isinstance(expr, Not):
        return terms_of(expr.operand)
    return [t for e in expr.operands for t in terms_of(e)]


def conjoin(a: Expr | None, b: Expr | None) -> Expr | None:
    """Both queries at once (either may be missing)."""
    if a is None or b is None:
        return a or b
    return And((a, b))


def _write(expr: Expr, term: Callable[[Term], str], level: int) -> str:
    """``level``: 0 at the top or inside OR, 1 inside AND, 2 under NOT (the parentheses each needs)."""
    if isinstance(expr, Term):
        return term(expr)
    if isinstance(expr, Not):
        return "-" + _write(expr.operand, term, 2)
    if isinstance(expr, And):
        text, needs = " ".join(_write(e, term, 1) for e in expr.operands), level >= 2
    else:
        text, needs = " OR ".join(_write(e, term, 0) for e in expr.operands), level >= 1
    return f"({text})" if needs else text


def _canonical_term(term: Term) -> str:
    if isinstance(term.value, Bounds):
        low, high = (_point(v) for v in (term.value.low, term.value.high))
        return f"{term.kind}:[{low},{high})"
    value = term.value
    if any(c.isspace() or c in '()":' for c in value) or value.startswith(("-", "#")) or value == "OR":
        value = json.dumps(value, ensure_ascii=False)
    return value if term.kind == "text" else f"{term.kind}:{value}"


def _point(value: int | datetime | None) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if isinstance(value, datetime) else str(value)
