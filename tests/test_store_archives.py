"""``store.archives`` on both databases: a filter's items by the time they were first
stored, from a start (included) to an end (not included), whatever their dates, and
the oldest such time; for every shape of filter the feeds use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from test_store import entry, setup_sources, write

from aggregator.config import SourceConfig
from aggregator.filters import Filter, parse_filter
from aggregator.store.archives import has_first_seen_before, oldest_first_seen, select_first_seen

Params = dict[str, Any]
START = datetime(2024, 8, 1, tzinfo=UTC)
END = datetime(2024, 9, 1, tzinfo=UTC)
TINY = timedelta(microseconds=1000)
# (title, tags, host, first stored): published dates are set years apart from these on purpose
ITEMS = [
    ("before", ("go",), "a.example", START - TINY),
    ("first", ("go",), "a.example", START),
    ("middle", ("go", "rust"), "b.example", START + timedelta(days=10)),
    ("rust only", ("rust",), "sub.a.example", START + timedelta(days=20)),
    ("last", ("go",), "b.example", END - TINY),
    ("after", ("go",), "a.example", END),
]


@pytest.fixture
def stored(engine: Engine) -> Engine:
    source = setup_sources(engine, SourceConfig("https://example.org/feed.xml", "feed", "x"))[
        "https://example.org/feed.xml"
    ]
    for n, (title, tags, host, seen) in enumerate(ITEMS):
        published = datetime(2019, 1, 1, tzinfo=UTC) + timedelta(days=100 * ((n * 7) % 6))
        write(engine, source, [entry(f"https://{host}/{n}", title, published, tags=tags)], seen)
    return engine


def titles(engine: Engine, flt: Filter) -> list[str]:
    with engine.connect() as conn:
        return [i.title for i in select_first_seen(conn, flt, START, END)]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["last", "rust only", "middle", "first"]),
        ({"tag": "go"}, ["last", "middle", "first"]),
        ({"tag": ["go", "rust"]}, ["middle"]),
        ({"any_tag": ["go", "rust"]}, ["last", "rust only", "middle", "first"]),
        ({"not_tag": "rust"}, ["last", "first"]),
        ({"site": "a.example"}, ["rust only", "first"]),
        ({"tag": "go", "not_tag": "go"}, []),
        ({"tag": "unknown"}, []),
        ({"limit": "1"}, ["last", "rust only", "middle", "first"]),  # an archive holds all of them
    ],
)
def test_items_first_stored_in_a_period_latest_first(
    stored: Engine, params: Params, expected: list[str]
) -> None:
    flt = parse_filter(params, now=START)
    assert titles(stored, flt) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [({}, START - TINY), ({"tag": "rust"}, START + timedelta(days=10)), ({"tag": "unknown"}, None)],
)
def test_the_oldest_first_stored(stored: Engine, params: Params, expected: datetime | None) -> None:
    with stored.connect() as conn:
        assert oldest_first_seen(conn, parse_filter(params, now=START)) == expected


@pytest.mark.parametrize(
    ("params", "when", "expected"),
    [
        ({}, START - TINY, False),  # before, not at
        ({}, START, True),
        ({"tag": "rust"}, START + timedelta(days=10), False),
        ({"tag": "rust"}, START + timedelta(days=10, microseconds=1000), True),
        ({"any_tag": ["rust", "unknown"]}, END, True),
        ({"tag": "unknown"}, END + timedelta(days=1), False),
        ({"tag": "go", "not_tag": "go"}, END + timedelta(days=1), False),
    ],
)
def test_whether_any_was_first_stored_before(
    stored: Engine, params: Params, when: datetime, expected: bool
) -> None:
    with stored.connect() as conn:
        assert has_first_seen_before(conn, parse_filter(params, now=START), when) is expected
