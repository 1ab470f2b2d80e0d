"""``q`` through the text index: the same items on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm),
the same items as a plain case-insensitive substring test of title, summary and content, after edits
and deletes, for any text a user types, and on a database made before the index existed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from oldschema import drop_later_schema
from sqlalchemy import delete, inspect, select, text, update
from sqlalchemy.engine import Engine
from test_store import FEED_URL, at, setup_sources

from aggregator.config import SourceConfig
from aggregator.db import make_engine
from aggregator.errors import SchemaVersionError
from aggregator.filters import Filter
from aggregator.identity import hash_text
from aggregator.ingest import SourceInfo, prepare_entries
from aggregator.migrations import HEAD
from aggregator.migrations.run import upgrade
from aggregator.models import Item, Meta, table_of
from aggregator.parse import ParsedEntry, ParsedFeed
from aggregator.store.items import write_items
from aggregator.store.slices import select_slice
from aggregator.store.textindex import FTS_TABLE, PG_INDEX, drop_statements, fts_phrase, install_text_index

ITEM = table_of(Item)
META = table_of(Meta)
# (title, summary, content): Japanese without spaces, mixed case beyond ASCII, quotes and FTS5 syntax.
TEXTS = [
    ("データ基盤の設計", "<p>社内のデータを一か所に</p>", None),
    ("Kubernetes 入門", "<p>Pods and Services</p>", "<p>kubectl apply -f app.yaml</p>"),
    ("ÉCOLE と Straße", None, "<p>ＡＷＳ の ＳＱＬite メモ</p>"),
    ('He said "hello" AND left', "<p>NEAR(a b) OR NOT c*</p>", None),
    ("100% pure Go", "<p>snake_case and back\\slash</p>", "<p>col:value ^start {x y} -minus +plus</p>"),
    ("Canary rollout notes", None, "<p>the canary rollout of データベース</p>"),
    ("ab", "<p>go</p>", None),
]
QUERIES = [
    "データ", "データ基盤", "基盤の", "ベース", "KUBERNETES", "kubectl APPLY", "pods and",
    "école", "ÉCOLE", "straße", "ａｗｓ", "ｓｑｌite", '"hello"', 'said "', '"', '""', "AND", "and left",
    "NEAR(a", "c*", "OR NOT", "100%", "%", "_", "snake_case", "\\", "back\\slash", "col:value", "^start",
    "{x y}", "-minus", "+plus", "canary rollout", "rollout of デ", "de", "デ", "a", "go", "ab",
    "p>", "nothing like this", "x" * 200,
]  # fmt: skip


def parsed(n: int, title: str, summary: str | None, content: str | None) -> ParsedEntry:
    link = f"https://example.org/text/{n}"
    return ParsedEntry(
        link=link, guid=None, title=title, summary=summary, content=content, author=None,
        published=at(1, n), updated=at(1, n), tags=(), bookmark_count=None, image=None,
        enclosures=(), raw_hash=hash_text(f"{link}|{title}"),
    )  # fmt: skip


def write(engine: Engine, texts: Sequence[tuple[str, str | None, str | None]]) -> None:
    source = setup_sources(engine, SourceConfig(FEED_URL, "feed", "Example blog"))[FEED_URL]
    entries = tuple(parsed(n, *t) for n, t in enumerate(texts))
    feed = ParsedFeed("rss20", "t", None, None, False, entries, len(entries), (), "utf-8")
    with engine.begin() as conn:
        write_items(conn, SourceInfo(source.id, "feed"), prepare_entries(feed, source), at(2))


def found(engine: Engine, q: str, **more: Any) -> set[str]:
    with engine.connect() as conn:
        return {v.key for v in select_slice(conn, Filter(q=q, limit=500, **more))}


def expected(engine: Engine, q: str) -> set[str]:
    """The items whose stored title, summary or content contains ``q``, ignoring case (in Python)."""
    with engine.connect() as conn:
        rows = conn.execute(select(ITEM.c.key, ITEM.c.title, ITEM.c.summary, ITEM.c.content)).all()
    return {key for key, *texts in rows if any(q.lower() in (t or "").lower() for t in texts)}


@pytest.fixture
def both(sqlite_url: str, pg_url: str) -> Any:
    engines = [make_engine(sqlite_url), make_engine(pg_url)]
    for engine in engines:
        write(engine, TEXTS)
    yield engines
    for engine in engines:
        engine.dispose()


@pytest.mark.postgres
def test_the_same_queries_find_the_same_items_on_both_databases(both: list[Engine]) -> None:
    sqlite, postgres = both
    for q in QUERIES:
        on_sqlite, on_postgres = found(sqlite, q), found(postgres, q)
        assert on_sqlite == on_postgres == expected(sqlite, q), q


def test_japanese_case_and_fts_syntax_match_as_substrings(engine: Engine) -> None:
    write(engine, TEXTS)
    keys = {t[0]: f"https://example.org/text/{n}" for n, t in enumerate(TEXTS)}
    assert found(engine, "データ") == {keys["データ基盤の設計"], keys["Canary rollout notes"]}
    assert found(engine, "基盤の") == {keys["データ基盤の設計"]}
    assert found(engine, "kubectl APPLY") == {keys["Kubernetes 入門"]}  # in the content
    assert found(engine, "école") == {keys["ÉCOLE と Straße"]}
    assert found(engine, '"hello" AND') == {keys['He said "hello" AND left']}
    assert found(engine, "NEAR(a") == {keys['He said "hello" AND left']}
    assert found(engine, "go pure") == set()  # a phrase, not two words
    for q in QUERIES:
        assert found(engine, q) == expected(engine, q), q


def test_short_queries_are_answered_without_trigrams(engine: Engine) -> None:
    write(engine, TEXTS)
    assert found(engine, "デ") == found(engine, "データ")
    assert found(engine, "go") == {"https://example.org/text/4", "https://example.org/text/6"}
    assert found(engine, "ab") == expected(engine, "ab") != set()


def test_q_combines_with_tags_and_time(engine: Engine) -> None:
    write(engine, TEXTS)
    assert found(engine, "データ", since=at(1, 3)) == {"https://example.org/text/5"}
    assert found(engine, "データ", tags=("nothing",)) == set()


def test_edited_and_deleted_items_leave_the_index(engine: Engine) -> None:
    write(engine, TEXTS)
    first, second = "https://example.org/text/0", "https://example.org/text/1"
    write(engine, [("社内ポータルの設計", "<p>別の話</p>", None), *TEXTS[1:]])  # a feed retitles an item
    with engine.begin() as conn:
        conn.execute(update(ITEM).where(ITEM.c.key == second).values(content="<p>helm upgrade</p>"))
        conn.execute(delete(ITEM).where(ITEM.c.key == "https://example.org/text/5"))
    assert found(engine, "データ基盤") == set()
    assert found(engine, "ポータル") == {first}
    assert found(engine, "kubectl") == set()
    assert found(engine, "HELM upgrade") == {second}
    assert found(engine, "canary") == set()
    for q in QUERIES:
        assert found(engine, q) == expected(engine, q), q


@pytest.mark.parametrize(
    ("q", "phrase"),
    [("abc", '"abc"'), ('say "hi"', '"say ""hi"""'), ('"', '""""'), ("a OR b*", '"a OR b*"')],
)
def test_a_query_is_one_quoted_fts_phrase(q: str, phrase: str) -> None:
    assert fts_phrase(q) == phrase


def test_install_is_idempotent(engine: Engine) -> None:
    write(engine, TEXTS)
    with engine.begin() as conn:
        assert install_text_index(conn) and install_text_index(conn)
        if engine.dialect.name == "sqlite":
            conn.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('integrity-check')"))
    assert found(engine, "データ") == expected(engine, "データ")
    if engine.dialect.name == "postgresql":
        assert {PG_INDEX} <= {i["name"] for i in inspect(engine).get_indexes("item")}


def test_a_database_at_revision_0001_gets_the_index_on_upgrade(db_url: str) -> None:
    """A database made before the text index (revision 0001): ``db upgrade`` indexes what it holds."""
    engine = make_engine(db_url)
    write(engine, TEXTS)  # stored while no index existed (dropped below with the later revisions)
    with engine.begin() as conn:
        for statement in drop_statements(engine.dialect.name):
            conn.execute(text(statement))
        drop_later_schema(conn)
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    engine.dispose()
    with pytest.raises(SchemaVersionError, match="aggregator db upgrade"):
        make_engine(db_url)  # behind: refused until upgraded
    engine = make_engine(db_url, create=False)
    try:
        assert upgrade(engine).after == HEAD
        assert found(engine, "データ基盤") == {"https://example.org/text/0"}
        assert found(engine, "kubectl") == {"https://example.org/text/1"}
        if engine.dialect.name == "sqlite":
            with engine.begin() as conn:
                conn.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('integrity-check')"))
        else:
            assert {PG_INDEX} <= {i["name"] for i in inspect(engine).get_indexes("item")}
    finally:
        engine.dispose()
