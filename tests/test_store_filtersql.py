"""``store.filtersql``: every term and operator of a ``filter`` query selects the posts it names, on
SQLite and PostgreSQL, through ``select_slice`` (hoisted terms and the compiled rest alike)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from filterdata import NOW, SOURCES, Post, make_sources, write_posts
from sqlalchemy.engine import Engine

from aggregator.filters import Filter, parse_filter
from aggregator.query import And, Term
from aggregator.store.filtersql import hoist
from aggregator.store.slices import Cursor, select_slice


def day(n: int) -> datetime:
    return datetime(2024, 6, 1, tzinfo=UTC) + timedelta(days=n)


POSTS = [
    Post("k8s", "deeeet.com", "Kubernetes入門", day(0),
         (("blog", ("kubernetes",)), ("umiyosh", ("k8s-book",))),
         summary="pods and nodes", author="deeeet", count=455),
    Post("helm", "blog.deeeet.com", "Helm charts 100%", day(5),
         (("site", ("kubernetes", "helm")),), count=120, summary="a_b chart", author="Jane Doe"),
    Post("docker", "notdeeeet.com", "Docker tips", day(10),
         (("tag", ("docker",)), ("tanaka", ())), count=30),
    Post("go", "golang.org", "Go言語の並行処理", day(13),
         (("blog", ("go",)),), summary="チャネルとゴルーチン", author="Rob"),
    Post("old", "example.com", "Old news", datetime(2023, 1, 1, tzinfo=UTC), (("umiyosh", ("kubernetes",)),)),
]  # fmt: skip
ALL = {p.slug for p in POSTS}


@pytest.fixture
def posts(engine: Engine) -> Engine:
    write_posts(engine, make_sources(engine), POSTS)
    return engine


def matching(engine: Engine, query: str = "", **params: Any) -> set[str]:
    flt = parse_filter({"limit": "500", **params} | ({"filter": query} if query else {}), now=NOW)
    with engine.connect() as conn:
        return {(v.link or "").rsplit("/", 1)[1] for v in select_slice(conn, flt)}


CASES = [
    ("tag:kubernetes", {"k8s", "helm", "old"}),
    ("#helm", {"helm"}),
    ("tag:nothing", set()),
    ("-tag:nothing", ALL),
    ("site:deeeet.com", {"k8s", "helm"}),
    ("site:blog.deeeet.com", {"helm"}),
    ("user:umiyosh", {"k8s", "old"}),
    ("user:nobody", set()),
    ("bookmarks:>=120", {"k8s", "helm"}),
    ("bookmarks:>120", {"k8s"}),
    ("bookmarks:<120", {"docker"}),  # an item without a count matches no count
    ("bookmarks:<=120", {"docker", "helm"}),
    ("bookmarks:=455", {"k8s"}),
    ("bookmarks:30..120", {"docker", "helm"}),
    ("-bookmarks:>=100", {"docker", "go", "old"}),
    ("date:7d", {"docker", "go"}),  # NOW is 2024-06-15 12:00: since 2024-06-08 12:00
    ("date:>=2024-06-06", {"docker", "go", "helm"}),
    ("date:<2024-06-06", {"k8s", "old"}),
    ("date:2024-06-01..2024-06-06", {"k8s", "helm"}),  # both days included
    ("date:=2024-06-11", {"docker"}),
    ("intitle:kubernetes", {"k8s"}),
    ("intitle:100%", {"helm"}),  # LIKE wildcards are literal
    ("intitle:言語", {"go"}),
    ("author:jane", {"helm"}),
    ('author:"jane doe"', {"helm"}),
    ("-author:jane", ALL - {"helm"}),  # items without an author are not by Jane
    ("チャネル", {"go"}),
    ("PODS", {"k8s"}),
    ('"docker tips"', {"docker"}),
    ("a_b", {"helm"}),
    ("入門 kubernetes", {"k8s"}),
    ("tag:kubernetes -tag:helm", {"k8s", "old"}),
    ("tag:helm OR tag:docker", {"helm", "docker"}),
    ("tag:kubernetes -(tag:helm OR user:umiyosh)", set()),
    ("-(tag:kubernetes OR tag:docker)", {"go"}),
    # NOT > AND > OR
    ("tag:go OR tag:kubernetes -tag:helm", {"go", "k8s", "old"}),
    ("(tag:go OR tag:kubernetes) -tag:helm", {"go", "k8s", "old"}),
    ("tag:go OR -tag:kubernetes tag:docker", {"go", "docker"}),
    ("-tag:docker -tag:helm", {"k8s", "go", "old"}),
    ("--tag:helm", {"helm"}),
]


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_term_and_operator(posts: Engine, query: str, expected: set[str]) -> None:
    assert matching(posts, query) == expected


def test_a_source_by_id_and_by_url(posts: Engine) -> None:
    tag_id = make_sources(posts)["tag"].id  # the same sources again: their ids
    tag_url, blog_url = SOURCES["tag"].url, SOURCES["blog"].url
    assert matching(posts, f"source:{tag_url}") == {"docker"} == matching(posts, f"source:{tag_id}")
    assert matching(posts, f"source:{blog_url} OR source:{tag_url}") == {"k8s", "go", "docker"}
    assert matching(posts, f"source:{blog_url} source:{tag_url}") == set()
    assert matching(posts, "source:999999") == set()
    assert matching(posts, f"-source:{blog_url}") == {"helm", "docker", "old"}


def test_the_other_parameters_and_with_the_filter(posts: Engine) -> None:
    assert matching(posts, "tag:kubernetes", not_tag="helm") == {"k8s", "old"}
    assert matching(posts, "tag:kubernetes OR tag:docker", min_bookmarks="100") == {"k8s", "helm"}
    assert matching(posts, "-tag:go", site="deeeet.com", q="chart") == {"helm"}
    assert matching(posts, "bookmarks:<200", since="2024-06-03") == {"helm", "docker"}


def test_a_route_filter_ands_with_the_query(posts: Engine) -> None:
    def merged(route: Filter, query: str) -> set[str]:
        flt = route.merge(parse_filter({"filter": query, "limit": "500"}, now=NOW))
        with posts.connect() as conn:
            return {(v.link or "").rsplit("/", 1)[1] for v in select_slice(conn, flt)}

    assert merged(Filter(tags=("kubernetes",)), "-tag:helm OR tag:docker") == {"k8s", "old"}
    assert merged(Filter(sites=("deeeet.com",)), "-bookmarks:>=200") == {"helm"}
    # a named output's own query and the URL's: both hold
    output = parse_filter({"filter": "tag:kubernetes OR tag:docker"}, now=NOW)
    assert merged(output, "bookmarks:>=100") == {"k8s", "helm"}
    assert isinstance(output.merge(parse_filter({"filter": "x"}, now=NOW)).expr, And)


def test_positive_terms_at_the_top_move_into_the_indexed_fields() -> None:
    flt = parse_filter(
        {"filter": "tag:a -tag:b site:x.org bookmarks:>=5 date:2024-01-01..2024-02-01 word user:u"}, now=NOW
    )
    moved = hoist(flt)
    assert (moved.tags, moved.not_tags, moved.sites, moved.min_bookmarks, moved.q) == (
        ("a",),
        ("b",),
        ("x.org",),
        5,
        "word",
    )
    assert (moved.since, moved.until) == (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 2, tzinfo=UTC))
    assert isinstance(moved.expr, Term) and moved.expr.kind == "user"  # no field holds a user
    either = hoist(parse_filter({"filter": "tag:a OR tag:b"}, now=NOW))  # any of them: merged ranges
    assert (either.tags, either.any_tags, either.expr) == ((), ("a", "b"), None)
    kept = hoist(parse_filter({"filter": "tag:a OR site:x.org"}, now=NOW))
    assert kept.tags == kept.any_tags == () and kept.expr is not None


def test_a_filter_pages_with_the_cursor(posts: Engine) -> None:
    flt = parse_filter({"filter": "-tag:go", "limit": "2"}, now=NOW)
    with posts.connect() as conn:
        first = select_slice(conn, flt)
        after = Cursor(first[-1].published, first[-1].id)
        rest = select_slice(conn, flt.with_limit(9), after=after)
    assert [v.title for v in first + rest] == [
        "Docker tips",
        "Helm charts 100%",
        "Kubernetes入門",
        "Old news",
    ]
