"""``store.ordering`` on both backends: popular and rising slices of feeds polled over real HTTP
while an injected clock moves, their ties, the window's edges and keyset pages.

The expected orders come from the counts the test's feeds served (``POLLS``), read through
the definition in ``aggregator.sorts``, never from the code under test.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from feedserver import FeedServer, Response
from sqlalchemy.engine import Engine
from test_poller import RDF, Entry, hatena_rdf

from aggregator.config import Config, parse_config
from aggregator.errors import QueryError
from aggregator.filters import parse_filter
from aggregator.poller import Poller
from aggregator.store.slices import Cursor, select_slice
from aggregator.views import ItemView

T0 = datetime(2024, 2, 10, tzinfo=UTC)
HOT, TAG = "/hot.rdf", "/tag.rdf"


@dataclass(frozen=True)
class Post:
    link: str
    published: datetime
    tags: tuple[str, ...]


POSTS = {
    "a": Post("https://example.com/a", T0 - timedelta(days=5), ("k8s",)),
    "b": Post("https://example.com/b", T0 - timedelta(days=4), ("go",)),
    "c": Post("https://example.org/c", T0 - timedelta(days=4, hours=-1), ("k8s",)),
    "d": Post("https://example.org/d", T0 - timedelta(hours=22), ("k8s", "go")),  # new, first polled at -20h
    "e": Post("https://example.org/e", T0 - timedelta(days=3, hours=-1), ("go",)),
}
# Hours before T0 at which a poll ran, and the counts each feed served then.
POLLS: list[tuple[int, dict[str, dict[str, int]]]] = [
    (-72, {HOT: {"a": 100, "b": 50, "c": 10, "e": 10}, TAG: {}}),
    (-30, {HOT: {"a": 120, "b": 50, "c": 10, "e": 10}, TAG: {}}),
    (-20, {HOT: {"a": 150, "b": 90, "c": 10, "e": 10, "d": 5}, TAG: {"a": 160}}),
    (-2, {HOT: {"a": 170, "b": 90, "c": 10, "e": 10, "d": 40}, TAG: {"a": 160}}),
]


def poll_time(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def document(counts: Mapping[str, int]) -> bytes:
    entries = [
        Entry(
            POSTS[name].link, f"post {name}", POSTS[name].tags, count, date=POSTS[name].published.isoformat()
        )
        for name, count in counts.items()
    ]
    return hatena_rdf("hot entries", entries)


@dataclass
class Scenario:
    engine: Engine
    config: Config
    ids: dict[str, int]  # post name -> item id

    def names(self, views: list[ItemView]) -> list[str]:
        by_id = {i: n for n, i in self.ids.items()}
        return [by_id[v.id] for v in views]


def build(
    engine: Engine, srv: FeedServer, outputs: list[dict[str, Any]] | None = None, t0: datetime = T0
) -> Scenario:
    """Serve ``POLLS`` one after another and poll each at its time (hours before ``t0``)."""
    for path in (HOT, TAG):
        replies = [Response(200, document(served[path]), [("Content-Type", RDF)]) for _, served in POLLS]
        srv.sequence(path, replies)
    sources = [{"url": srv.url(HOT), "kind": "tag"}, {"url": srv.url(TAG), "kind": "tag"}]
    poller = {"allow_private_networks": True, "total_timeout": 5, "connect_timeout": 2}
    config = parse_config({"sources": sources, "poller": poller, "outputs": outputs or []})
    for hours, _ in POLLS:
        when = t0 + timedelta(hours=hours)
        report = asyncio.run(Poller(engine, config, clock=lambda when=when: when).run_once(force=True))
        assert [o.status for o in report.outcomes if o.status == "error"] == []
    with engine.connect() as conn:
        views = select_slice(conn, parse_filter({"limit": "50"}, now=t0))
    ids = {v.title.removeprefix("post "): v.id for v in views}
    assert set(ids) == set(POSTS)
    return Scenario(engine, config, ids)


# --------------------------------------------------------------------------- the definition, on the input


def newest(source: str, name: str, bound: datetime) -> int | None:
    """What ``source`` last served for ``name`` at or before ``bound``."""
    found = None
    for hours, served in POLLS:
        if poll_time(hours) <= bound and name in served[source]:
            found = served[source][name]
    return found


def expected_growth(now: datetime, window: timedelta) -> dict[str, int]:
    """``aggregator.sorts``' growth, computed from what the feeds served: items that grew only."""
    start = now - window
    grown = {}
    for name in POSTS:
        current = [c for s in (HOT, TAG) if (c := newest(s, name, now)) is not None]
        before = [c for s in (HOT, TAG) if (c := newest(s, name, start)) is not None]
        inside = [
            served[s][name]
            for h, served in POLLS
            if start < poll_time(h) <= now
            for s in served
            if name in served[s]
        ]
        base = max(before) if before else 0 if POSTS[name].published > start else min(inside)
        if current and max(current) - base > 0:
            grown[name] = max(current) - base
    return grown


def expected_order(scores: Mapping[str, int]) -> list[str]:
    """Highest score first, ties newest first."""
    return sorted(scores, key=lambda n: (-scores[n], -POSTS[n].published.timestamp()))


def most_bookmarked(now: datetime) -> dict[str, int]:
    """The highest count any feed served for each post up to ``now``."""
    counts: dict[str, int] = {}
    for hours, served in POLLS:
        if poll_time(hours) <= now:
            for per_post in served.values():
                for name, count in per_post.items():
                    counts[name] = max(counts.get(name, 0), count)
    return counts


# --------------------------------------------------------------------------- tests


@pytest.fixture
def scenario(engine: Engine, srv: FeedServer) -> Iterator[Scenario]:
    yield build(engine, srv)


def read(sc: Scenario, now: datetime = T0, after: Cursor | None = None, **params: str) -> list[ItemView]:
    with sc.engine.connect() as conn:
        return select_slice(conn, parse_filter(params, now=now), after=after)


def test_rising_lists_the_items_that_grew_most_in_the_window(scenario: Scenario) -> None:
    day = read(scenario, sort="rising")
    assert {scenario.names([v])[0]: v.growth for v in day} == expected_growth(T0, timedelta(hours=24))
    assert {scenario.names([v])[0]: v.growth for v in day} == {"a": 50, "d": 40, "b": 40}  # by hand
    assert scenario.names(day) == expected_order(expected_growth(T0, timedelta(hours=24))) == ["a", "d", "b"]
    six = read(scenario, sort="rising", window="6h")
    assert scenario.names(six) == expected_order(expected_growth(T0, timedelta(hours=6))) == ["d", "a"]
    assert [v.growth for v in six] == [35, 10]  # a: 160 (the tag feed's) at the start, 170 now
    week = read(scenario, sort="rising", window="7d")
    assert scenario.names(week) == expected_order(expected_growth(T0, timedelta(days=7)))


def test_a_point_at_the_window_start_is_the_count_before(scenario: Scenario) -> None:
    now = poll_time(-2)
    start_on_a_poll = now - poll_time(-20)  # 18h: the window starts at the third poll
    assert start_on_a_poll == timedelta(hours=18)
    on = read(scenario, now, sort="rising", window="18h")
    assert scenario.names(on) == expected_order(expected_growth(now, start_on_a_poll)) == ["d", "a"]
    assert [v.growth for v in on] == [35, 10]
    wider = read(scenario, now, sort="rising", window=f"{18 * 3600 + 1}s")
    assert scenario.names(wider) == expected_order(
        expected_growth(now, start_on_a_poll + timedelta(seconds=1))
    )
    # d was published 22h before T0: inside the 24h window it grew from 0, from 20h and 1s
    # (published before that window) it grew from its first count inside, 5
    assert [v.growth for v in wider] == [50, 40, 35]


def test_nothing_rises_in_a_window_with_no_poll(scenario: Scenario) -> None:
    assert read(scenario, T0 + timedelta(hours=30), sort="rising", window="1h") == []
    assert expected_growth(T0 + timedelta(hours=30), timedelta(hours=1)) == {}


def test_popular_is_most_bookmarked_first_ties_newest_first(scenario: Scenario) -> None:
    popular = read(scenario, sort="popular")
    assert scenario.names(popular) == expected_order(most_bookmarked(T0)) == ["a", "b", "d", "e", "c"]
    assert [v.bookmark_count for v in popular] == [170, 90, 40, 10, 10]
    assert [v.growth for v in popular] == [None] * 5


def test_recent_stays_the_default_order(scenario: Scenario) -> None:
    newest_first = sorted(POSTS, key=lambda n: -POSTS[n].published.timestamp())
    assert scenario.names(read(scenario)) == scenario.names(read(scenario, sort="recent")) == newest_first


def test_sorts_combine_with_the_filters(scenario: Scenario) -> None:
    by_tag = [n for n in expected_order(most_bookmarked(T0)) if "go" in POSTS[n].tags]
    assert scenario.names(read(scenario, sort="popular", tag="go")) == by_tag
    either = [n for n in expected_order(most_bookmarked(T0)) if {"go", "k8s"} & set(POSTS[n].tags)]
    assert scenario.names(read(scenario, sort="popular", any_tag=["go", "k8s"], limit="3")) == either[:3]
    on_org = [n for n in expected_order(expected_growth(T0, timedelta(hours=24))) if ".org/" in POSTS[n].link]
    assert scenario.names(read(scenario, sort="rising", site="example.org")) == on_org == ["d"]
    assert scenario.names(read(scenario, sort="popular", min_bookmarks="40")) == ["a", "b", "d"]
    grew_go = [n for n in expected_order(expected_growth(T0, timedelta(hours=24))) if "go" in POSTS[n].tags]
    assert scenario.names(read(scenario, sort="rising", tag="go")) == grew_go == ["d", "b"]
    assert scenario.names(read(scenario, sort="rising", any_tag=["go", "k8s"])) == ["a", "d", "b"]


@pytest.mark.parametrize("sort", ["popular", "rising"])
def test_keyset_pages_walk_the_whole_ranking(scenario: Scenario, sort: str) -> None:
    whole = read(scenario, sort=sort)
    pages: list[ItemView] = []
    after = None
    while True:
        page = read(scenario, after=after, sort=sort, limit="2")
        pages += page
        if len(page) < 2:
            break
        last = page[-1]
        after = Cursor(last.published, last.id, last.growth if sort == "rising" else last.bookmark_count)
    assert [v.id for v in pages] == [v.id for v in whole]


def test_a_ranked_cursor_reads_back_and_a_forged_one_is_refused() -> None:
    when = datetime(2024, 2, 1, 12, 30, 15, 250, tzinfo=UTC)
    for cursor in (Cursor(when, 7), Cursor(when, 7, 455), Cursor(when, 7, 0), Cursor(when, 7, -3)):
        assert Cursor.decode(cursor.encode()) == cursor
    for raw in ("2024-02-01T00:00:00.000000|7|1|2", "2024-02-01T00:00:00.000000|7|x", f"{when}|7|{2**40}"):
        with pytest.raises(QueryError) as info:
            Cursor.decode(base64.urlsafe_b64encode(raw.encode()).decode())
        assert info.value.param == "cursor"
