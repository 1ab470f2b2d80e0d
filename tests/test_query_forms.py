"""``query.forms``: the canonical form (cache keys) and the typed form (feed titles) of a query."""

from __future__ import annotations

from datetime import UTC, datetime

from aggregator.filters import Filter, parse_filter
from aggregator.query import canonical, conjoin, describe, parse_query, terms_of

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)


def expr_of(query: str, now: datetime = NOW) -> Filter:
    return parse_filter({"filter": query}, aliases={"k8s": "kubernetes"}, now=now)


def test_equal_queries_have_one_canonical_form() -> None:
    forms = {
        canonical(e)
        for q in ("tag:K8s  -tag:helm", "#kubernetes -tag:Helm", "(tag:kubernetes) -(tag:helm)")
        if (e := expr_of(q).expr) is not None
    }
    assert forms == {"tag:kubernetes -tag:helm"}


def test_the_canonical_form_keeps_the_meaning_of_groups() -> None:
    flt = expr_of('-(a OR "b c") d OR site:www.x.org intitle:"R&D" date:2024-01-01')
    assert flt.expr is not None
    assert canonical(flt.expr) == (
        '-(a OR "b c") d OR site:x.org intitle:R&D date:[2024-01-01T00:00:00.000000Z,)'
    )


def test_describe_writes_the_terms_as_typed() -> None:
    flt = expr_of("TAG:K8s (a OR b)")
    assert flt.expr is not None and describe(flt.expr) == "TAG:K8s (a OR b)"
    assert flt.describe() == "filtered by “TAG:K8s (a OR b)”"


def test_the_filter_enters_the_slice_name_and_an_age_moves_with_now() -> None:
    assert expr_of("tag:a").canonical() != Filter().canonical()
    later = datetime(2024, 6, 16, tzinfo=UTC)
    assert expr_of("date:7d").canonical() != expr_of("date:7d", later).canonical()


def test_terms_are_listed_in_the_order_typed_and_queries_conjoin() -> None:
    a, b = parse_query("x -(y OR z)"), parse_query("w")
    assert a is not None and b is not None
    assert [t.text for t in terms_of(a)] == ["x", "y", "z"]
    both = conjoin(a, b)
    assert both is not None and describe(both) == "x -(y OR z) w"  # AND of ANDs needs no parentheses
    assert conjoin(None, b) is b and conjoin(a, None) is a
