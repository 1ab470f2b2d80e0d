"""``query.values`` through ``filters.parse_filter``: each term's value checked and normalized as the
parameter of the same meaning is, and a bad value reported at the value's position."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.errors import FilterError
from aggregator.filters import parse_filter
from aggregator.query import Bounds, Expr, Term

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)


def parsed(query: str) -> Expr | None:
    return parse_filter({"filter": query}, aliases={"k8s": "kubernetes"}, now=NOW).expr


def value(query: str) -> object:
    term = parsed(query)
    assert isinstance(term, Term)
    return term.value


VALUES = [
    ("tag:K8s", "kubernetes"),  # normalized and aliased like tag=
    ("#Kubernetes", "kubernetes"),
    ("site:www.Example.COM", "example.com"),
    ("source:12", "12"),
    ("user:umiyosh", "umiyosh"),
    ("intitle:Go", "Go"),
    ('author:"Rob Pike"', "Rob Pike"),
    ("bookmarks:>=100", Bounds(100, None)),
    ("bookmarks:>100", Bounds(101, None)),
    ("bookmarks:<100", Bounds(None, 100)),
    ("bookmarks:<=100", Bounds(None, 101)),
    ("bookmarks:=100", Bounds(100, 101)),
    ("bookmarks:100", Bounds(100, 101)),
    ("bookmarks:100..500", Bounds(100, 501)),
    ("bookmarks:100..", Bounds(100, None)),
    ("date:7d", Bounds(NOW - 7 * DAY, None)),
    ("date:>=2024-05-01", Bounds(datetime(2024, 5, 1, tzinfo=UTC), None)),
    ("date:>2024-05-01", Bounds(datetime(2024, 5, 2, tzinfo=UTC), None)),  # after that whole day
    ("date:<=2024-05-01", Bounds(None, datetime(2024, 5, 2, tzinfo=UTC))),
    ("date:<2024-05-01T10:00:00Z", Bounds(None, datetime(2024, 5, 1, 10, tzinfo=UTC))),
    ("date:<=2024-05-01T10:00:00Z", Bounds(None, datetime(2024, 5, 1, 10, tzinfo=UTC) + TICK)),
    ("date:=2024-05-01", Bounds(datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC))),
    (
        "date:2024-05-01..2024-06-01",
        Bounds(datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 6, 2, tzinfo=UTC)),
    ),
]


@pytest.mark.parametrize(("query", "expected"), VALUES, ids=[v[0] for v in VALUES])
def test_a_value_is_normalized(query: str, expected: object) -> None:
    assert value(query) == expected


BAD = [
    ("tag:k8s site:nope..com", 13, "site: not a host name: 'nope..com'"),
    ("bookmarks:lots", 10, "bookmarks: expected a whole number from 0 to 10000000, got 'lots'"),
    ("bookmarks:>=99999999", 10, "bookmarks: expected a whole number from 0 to 10000000, got 99999999"),
    ("bookmarks:..", 10, "bookmarks: expected a value on at least one side of '..'"),
    ("source:feed", 7, "source: expected a source id (see /api/sources) or its http(s) URL"),
    ("a user:" + "u" * 201, 7, "user: longer than 200 characters"),
    ("intitle:" + "x" * 201, 8, "intitle: longer than 200 characters"),
]


@pytest.mark.parametrize(("query", "position", "message"), BAD, ids=[b[0][:24] for b in BAD])
def test_a_bad_value_is_reported_at_its_position(query: str, position: int, message: str) -> None:
    with pytest.raises(FilterError) as caught:
        parsed(query)
    assert (caught.value.position, caught.value.reason) == (position, message)


def test_a_bad_date_names_the_forms_it_takes() -> None:
    with pytest.raises(FilterError) as caught:
        parsed("date:>=yesterday")
    assert caught.value.position == 5 and "an age (7d)" in caught.value.reason
