"""``store.filtersql`` against a plain evaluation: random posts written through the store's normal
writes, random queries from the grammar, and the SQL answer on SQLite and on PostgreSQL must be the
set a straightforward Python reading of the same query over the same posts gives.

The evaluator below works on the generated posts and the generated query tree only: it reads
each term as the README describes it (a day stands for the whole day, ranges include both ends,
a missing count or author matches nothing, text is a case-insensitive substring).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from filterdata import NOW, SOURCES, USERS, Post, clear_posts, make_sources, write_posts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from aggregator.filters import parse_filter
from aggregator.identity import normalize_tag
from aggregator.ingest import SourceInfo
from aggregator.store.slices import select_slice

TAGS = ("kubernetes", "helm", "go", "docker", "日本語")
HOSTS = ("deeeet.com", "blog.deeeet.com", "notdeeeet.com", "example.org")
WORDS = ("Kubernetes", "入門", "Helm", "chart", "100%", "a_b", "Go言語", "並行処理", "tips")
SEARCH = (*WORDS, "kube", "HELM", "言語", "ルーチン", "%", "_", "zz", "Kubernetes入門", "chart 100%")
AUTHORS = ("Jane Doe", "Rob", "たなか ひろし")
START = NOW - timedelta(days=40)
Node = tuple[Any, ...]

# ----------------------------------------------------------------------------- random posts


def posts_strategy() -> st.SearchStrategy[list[Post]]:
    sighting = st.tuples(st.sampled_from(tuple(SOURCES)), st.frozensets(st.sampled_from(TAGS), max_size=2))
    post = st.builds(
        lambda n, host, title, minutes, seen, summary, author, count: (
            host,
            title,
            minutes,
            seen,
            summary,
            author,
            count,
        ),
        st.just(0),
        st.sampled_from(HOSTS),
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
        st.integers(0, 41 * 24 * 60),
        st.lists(sighting, min_size=1, max_size=3, unique_by=lambda s: s[0]),
        st.none() | st.lists(st.sampled_from(WORDS), min_size=1, max_size=2).map(" ".join),
        st.none() | st.sampled_from(AUTHORS),
        st.none() | st.sampled_from((0, 30, 100, 120, 455, 1000)),
    )
    return st.lists(post, max_size=10).map(
        lambda rows: [
            Post(f"p{i}", host, title, START + timedelta(minutes=minutes),
                 tuple((name, tuple(sorted(tags))) for name, tags in seen), summary, author, count)
            for i, (host, title, minutes, seen, summary, author, count) in enumerate(rows)
        ]
    )  # fmt: skip


# ----------------------------------------------------------------------------- random queries


def day_of(n: int) -> date:
    return (START + timedelta(days=n)).date()


def terms() -> st.SearchStrategy[Node]:
    ops = st.sampled_from(("", ">=", ">", "<", "<=", "="))
    counts = st.sampled_from((0, 29, 30, 100, 121, 455, 999))
    days = st.integers(0, 41).map(day_of)
    return st.one_of(
        st.tuples(st.just("tag"), st.sampled_from((*TAGS, "missing")), st.booleans()),
        st.tuples(st.just("site"), st.sampled_from((*HOSTS, "deeeet.com", "org"))),
        st.tuples(st.just("source"), st.sampled_from(tuple(SOURCES)), st.booleans()),
        st.tuples(st.just("user"), st.sampled_from((*USERS, "nobody"))),
        st.tuples(st.just("bookmarks"), ops, counts, st.none()),
        st.tuples(st.just("bookmarks"), st.just(".."), counts, counts),
        st.tuples(st.just("date"), ops, days, st.none()),
        st.tuples(st.just("date"), st.just(".."), days, days),
        st.tuples(st.just("age"), st.integers(1, 45)),
        st.tuples(st.just("intitle"), st.sampled_from(SEARCH)),
        st.tuples(st.just("author"), st.sampled_from(("jane", "DOE", "rob", "ひろし", "x"))),
        st.tuples(st.just("text"), st.sampled_from(SEARCH)),
    )


def queries() -> st.SearchStrategy[Node]:
    return st.recursive(
        terms(),
        lambda inner: st.one_of(
            st.tuples(st.just("not"), inner),
            st.tuples(st.just("and"), st.lists(inner, min_size=2, max_size=3)),
            st.tuples(st.just("or"), st.lists(inner, min_size=2, max_size=3)),
        ),
        max_leaves=6,
    )


def written(node: Node, level: int = 0) -> str:
    """The query as a user types it, with only the parentheses precedence needs (NOT > AND > OR)."""
    kind = node[0]
    if kind == "not":
        return "-" + written(node[1], 2)
    if kind in ("and", "or"):
        joined = (" " if kind == "and" else " OR ").join(
            written(n, 1 if kind == "and" else 0) for n in node[1]
        )
        return f"({joined})" if level >= (2 if kind == "and" else 1) else joined
    if kind == "tag":
        return f"#{node[1]}" if node[2] else f"tag:{node[1]}"
    if kind == "source":
        return f"source:{SOURCES[node[1]].url}" if node[2] else f"source:{{{node[1]}}}"
    if kind in ("bookmarks", "date"):
        value = f"{node[2]}..{node[3]}" if node[1] == ".." else f"{node[1]}{node[2]}"
        return f"{kind}:{value}"
    if kind == "age":
        return f"date:{node[1]}d"
    value = f'"{node[1]}"' if " " in node[1] else node[1]
    return value if kind == "text" else f"{kind}:{value}"


# ----------------------------------------------------------------------------- the plain evaluation


def compare(op: str, value: Any, low: Any, high: Any) -> bool:
    """``..`` includes both ends; no operator means ``=`` for a count and ``>=`` (since) for a date."""
    if op == "..":
        return bool(low <= value <= high)
    if op == "":
        op = ">=" if isinstance(value, date) else "="
    results = {">=": value >= low, ">": value > low, "<": value < low, "<=": value <= low, "=": value == low}
    return bool(results[op])


def holds(node: Node, post: Post) -> bool:
    kind, by_feed = node[0], post.by_feed
    summary = post.summary if by_feed else None
    author = post.author if by_feed else None
    checks: dict[str, Callable[[], bool]] = {
        "not": lambda: not holds(node[1], post),
        "and": lambda: all(holds(n, post) for n in node[1]),
        "or": lambda: any(holds(n, post) for n in node[1]),
        "tag": lambda: node[1] in post.tags,
        "site": lambda: post.host == node[1] or post.host.endswith("." + node[1]),
        "source": lambda: any(name == node[1] for name, _ in post.seen),
        "user": lambda: any(name == node[1] for name, _ in post.seen),
        "bookmarks": lambda: post.count is not None and compare(node[1], post.count, node[2], node[3]),
        "date": lambda: compare(node[1], post.published.date(), node[2], node[3]),
        "age": lambda: post.published >= NOW - timedelta(days=node[1]),
        "intitle": lambda: node[1].lower() in post.title.lower(),
        "author": lambda: author is not None and node[1].lower() in author.lower(),
        "text": lambda: any(node[1].lower() in (f or "").lower() for f in (post.title, summary)),
    }
    return checks[kind]()


# ----------------------------------------------------------------------------- the property


@pytest.fixture
def sources(engine: Engine) -> dict[str, SourceInfo]:
    assert all(normalize_tag(t) == t for t in TAGS)  # the generated tags are already in normal form
    return make_sources(engine)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(posts=posts_strategy(), nodes=st.lists(queries(), min_size=1, max_size=4))
def test_sql_matches_a_plain_evaluation(
    engine: Engine, sources: dict[str, SourceInfo], posts: list[Post], nodes: list[Node]
) -> None:
    clear_posts(engine)
    write_posts(engine, sources, posts)
    for node in nodes:
        query = written(node)
        for name, info in sources.items():  # a source by id: known only once the sources exist
            query = query.replace(f"source:{{{name}}}", f"source:{info.id}")
        flt = parse_filter({"filter": query, "limit": "500"}, now=NOW)
        with engine.connect() as conn:
            found = {(v.link or "").rsplit("/", 1)[1] for v in select_slice(conn, flt)}
        expected = {p.slug for p in posts if holds(node, p)}
        assert found == expected, query


def test_the_written_form_keeps_precedence() -> None:
    node = ("and", [("or", [("text", "a"), ("text", "b")]), ("not", ("and", [("text", "c"), ("text", "d")]))])
    assert written(node) == "(a OR b) -(c d)"
    assert written(("or", [("and", [("text", "a"), ("text", "b")]), ("text", "c")])) == "a b OR c"
    assert day_of(0) == datetime(2024, 5, 6, tzinfo=UTC).date()
