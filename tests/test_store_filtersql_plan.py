"""Each ``filter=`` term alone is read through an index, on SQLite and PostgreSQL (no full scan of
``item``), in the style of ``test_store_slices_plan``: the same 6,000 items, plus sightings by three
sources (two of them users' bookmarks) and authors; EXPLAIN of the statement ``select_slice`` runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from test_store_slices_plan import ITEMS, RARE_WORD, START, TAG_KEYS, filled, index_reads

from aggregator.filters import parse_filter
from aggregator.models import (
    ITEM_BOOKMARKS_INDEX,
    ITEM_SITE_INDEX,
    SIGHTING_USER_INDEX,
    Sighting,
    Source,
    table_of,
)
from aggregator.store.slices import select_slice
from aggregator.store.textindex import FTS_TABLE, PG_COLUMN_INDEXES, PG_INDEX

__all__ = ["filled"]  # the fixture, shared with the slice plan tests
SOURCE = table_of(Source)
SIGHTING = table_of(Sighting)
NOW = datetime(2025, 1, 10, tzinfo=UTC)
# A source is tested per item through the sighting's primary key (item_id, source_id) as the date
# index is walked (SQLite), or read from the sighting's source index (PostgreSQL).
SOURCE_KEYS = {
    "ix_sighting_source_id",
    "ix_sighting_source_entry",
    "sqlite_autoindex_sighting_1",
    "sighting_pkey",
}


@pytest.fixture
def seen(filled: Engine) -> Engine:
    """Every item from source 1; every 500th also in user rare's bookmarks, every 7th in user other's."""
    when = START.replace(tzinfo=UTC)
    with filled.begin() as conn:
        conn.execute(
            SOURCE.insert(),
            [{"id": i, "url": f"https://s{i}.example/feed", "kind": k, "title": f"s{i}", "tags": []}
             for i, k in ((1, "feed"), (2, "user"), (3, "user"))],
        )  # fmt: skip
        rows = [
            {"item_id": n, "source_id": 1, "user": None, "tags": [], "first_seen": when, "last_seen": when}
            for n in range(1, ITEMS + 1)
        ]
        rows += [
            {"item_id": n, "source_id": 2, "user": "rare", "tags": [], "first_seen": when, "last_seen": when}
            for n in range(1, ITEMS + 1, 500)
        ]
        rows += [
            {"item_id": n, "source_id": 3, "user": "other", "tags": [], "first_seen": when, "last_seen": when}
            for n in range(1, ITEMS + 1, 7)
        ]
        conn.execute(SIGHTING.insert(), rows)
        conn.execute(text("UPDATE item SET author = 'writer ' || (id % 50), title = 'item ' || id"))
        conn.execute(
            text(
                f"UPDATE item SET author = 'A {RARE_WORD} writer', title = 'the {RARE_WORD} item'"
                " WHERE id % 1000 = 7"
            )
        )
    if filled.dialect.name == "postgresql":
        with filled.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("item", "sighting", "source"):
                conn.execute(text(f"VACUUM ANALYZE {table}"))
    return filled


TEXT = "text"  # the text index of the dialect: the FTS table (SQLite), the trigram index (PostgreSQL)
CASES = [
    ("tag:rare", {"ix_item_tag_tag_published"}),
    ("site:site2.example.com", {ITEM_SITE_INDEX}),
    ("source:2", SOURCE_KEYS),
    ("user:rare", {SIGHTING_USER_INDEX}),
    ("bookmarks:>=1000", {ITEM_BOOKMARKS_INDEX}),
    ("bookmarks:1000..6000", {ITEM_BOOKMARKS_INDEX}),
    ("date:2025-01-02..2025-01-02", {"ix_item_published"}),
    (f"intitle:{RARE_WORD}", {"title"}),
    (f"author:{RARE_WORD}", {"author"}),
    (RARE_WORD, {TEXT}),
    ("-tag:rare", TAG_KEYS),
    ("tag:rare OR tag:other", TAG_KEYS),
    ("tag:rare OR -tag:other", TAG_KEYS),
]


@pytest.mark.parametrize(("query", "wanted"), CASES, ids=[c[0] for c in CASES])
def test_a_term_alone_reads_an_index(seen: Engine, query: str, wanted: set[str]) -> None:
    sqlite = seen.dialect.name == "sqlite"
    # No author index on SQLite (its FTS table holds the title, summary and content): the date index is
    # walked newest first and each row's author tested, which stops at the slice's limit.
    column_index = {
        "title": FTS_TABLE if sqlite else PG_COLUMN_INDEXES["title"],
        "author": "ix_item_published" if sqlite else PG_COLUMN_INDEXES["author"],
    }
    wanted = {column_index.get(w, w) for w in wanted} | (
        {FTS_TABLE if sqlite else PG_INDEX} if TEXT in wanted else set()
    )
    wanted.discard(TEXT)
    flt = parse_filter({"filter": query}, now=NOW)
    with seen.connect() as conn:
        reads, whole = index_reads(conn, flt)
        found = select_slice(conn, flt)
    assert set(reads) & wanted, f"{query}: plan reads {sorted(set(reads))}, none of {sorted(wanted)}"
    assert "item" not in whole and not [w for w in whole if w.startswith("SCAN item")], (
        f"{query}: full scan {whole}"
    )
    assert found  # the query matches something: the plan is of a real answer


def test_without_the_new_indexes_the_plans_name_none_of_them(seen: Engine) -> None:
    """The check above is not vacuous: dropped, the user and per-column indexes leave the plans."""
    with seen.begin() as conn:
        conn.execute(text(f"DROP INDEX {SIGHTING_USER_INDEX}"))
        for name in PG_COLUMN_INDEXES.values() if seen.dialect.name == "postgresql" else ():
            conn.execute(text(f"DROP INDEX {name}"))
    with seen.connect() as conn:
        user, _ = index_reads(conn, parse_filter({"filter": "user:rare"}, now=NOW))
        title, _ = index_reads(conn, parse_filter({"filter": f"intitle:{RARE_WORD}"}, now=NOW))
        author, _ = index_reads(conn, parse_filter({"filter": f"author:{RARE_WORD}"}, now=NOW))
    assert SIGHTING_USER_INDEX not in user
    assert not {*title, *author} & set(PG_COLUMN_INDEXES.values())
