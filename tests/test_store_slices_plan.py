"""Every slice shape is read through its index, on SQLite and PostgreSQL: a lost index fails here.

The database holds enough items for the planner to prefer the index (PostgreSQL is
VACUUMed and ANALYZEd, as autovacuum would; SQLite has no statistics, as in production). Each test
EXPLAINs the statement ``select_slice`` runs (``slice_statement``, binds inlined) and
asserts the named index and no full scan of ``item``. No timings.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from aggregator.filters import Filter
from aggregator.identity import hash_text, site_key
from aggregator.models import ITEM_BOOKMARKS_INDEX, ITEM_SITE_INDEX, Item, ItemTag, Tag, table_of
from aggregator.store.slices import select_slice, slice_statement
from aggregator.store.textindex import FTS_TABLE, PG_INDEX, drop_statements

ITEM = table_of(Item)
ITEM_TAG = table_of(ItemTag)
TAG = table_of(Tag)
ITEMS = 6000
SITES = 600  # ten items each; every third on a subdomain (blog.site2.example.com)
TAGS = ("common", "rare", "other")
RARE_WORD = "quokka"  # in the summary of every thousandth item
TAG_KEYS = {"sqlite_autoindex_item_tag_1", "item_tag_pkey", "ix_item_tag_tag_published"}
START = datetime(2025, 1, 1)  # naive UTC, as stored


def site_of(n: int) -> str:
    rank = n % SITES
    return f"blog.site{rank}.example.com" if rank % 3 == 2 else f"site{rank}.example.com"


def item_row(n: int) -> dict[str, Any]:
    link = f"https://{site_of(n)}/posts/{n}"
    when = START + timedelta(minutes=n)
    return {
        "id": n, "key_hash": hash_text(link), "key": link, "link": link, "title": f"item {n}",
        "summary": f"a {RARE_WORD} on page {n}" if n % 1000 == 7 else f"notes on page {n}",
        "published": when, "has_date": True, "updated": when, "first_seen": when, "last_seen": when,
        "site": site_of(n), "site_key": site_key(site_of(n)), "enclosures": [],
        "bookmark_count": 5000 + n if n % 1000 == 0 else n % 7, "owner_rank": 0, "version": 1,
    }  # fmt: skip


@pytest.fixture
def filled(engine: Engine) -> Engine:
    with engine.begin() as conn:
        conn.execute(TAG.insert(), [{"id": i + 1, "name": t, "display": t} for i, t in enumerate(TAGS)])
        rows = [item_row(n) for n in range(1, ITEMS + 1)]
        # SQLAlchemy's UTCDateTime wants aware datetimes on the way in.
        for row in rows:
            for name in ("published", "updated", "first_seen", "last_seen"):
                row[name] = row[name].replace(tzinfo=UTC)
        conn.execute(ITEM.insert(), rows)
        links = [{"tag_id": 1, "item_id": r["id"], "published": r["published"]} for r in rows]
        links += [{"tag_id": 2, "item_id": r["id"], "published": r["published"]} for r in rows[::500]]
        links += [{"tag_id": 3, "item_id": r["id"], "published": r["published"]} for r in rows[::7]]
        conn.execute(ITEM_TAG.insert(), links)
    if engine.dialect.name == "postgresql":
        # VACUUM also moves the GIN index's pending entries into the index, as autovacuum does.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE item"))
            conn.execute(text("VACUUM ANALYZE item_tag"))
    return engine


def plan(conn: Connection, flt: Filter) -> tuple[set[str], list[str]]:
    """(index names the plan reads, tables it scans whole) for the statement select_slice runs."""
    reads, whole = index_reads(conn, flt)
    return set(reads), whole


def index_reads(conn: Connection, flt: Filter) -> tuple[list[str], list[str]]:
    """(each index read, once per read; tables scanned whole). The FTS table counts as an index."""
    query = slice_statement(conn, flt)
    assert query is not None
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "sqlite":
        details = [str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
        indexes = [
            d.split("USING ")[1].split("INDEX ")[1].split()[0]
            for d in details
            if "INDEX " in d and "USING " in d
        ]
        if any("USING INTEGER PRIMARY KEY" in d or "USING ROWID" in d for d in details):
            indexes.append("(primary key)")
        # A MATCH reads the FTS index ("VIRTUAL TABLE INDEX 0:M…"); a virtual table without it is a scan.
        fts = [d for d in details if d.startswith(f"SCAN {FTS_TABLE} VIRTUAL TABLE INDEX") and ":M" in d]
        indexes += [FTS_TABLE] * len(fts)
        # "SCAN item" alone reads the table; "SCAN item USING INDEX ix" walks an index in order.
        whole = [
            d
            for d in details
            if d.startswith("SCAN ") and "USING" not in d and d not in fts and " anon_" not in f" {d}"
        ]
        return indexes, whole
    raw = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}").scalar()
    nodes = _pg_nodes((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"])
    indexes = [n["Index Name"] for n in nodes if "Index Name" in n]
    whole = [n.get("Relation Name", "?") for n in nodes if n["Node Type"] == "Seq Scan"]
    return indexes, whole


def _pg_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("Plans", []) for n in _pg_nodes(child))]


CASES = [
    ("all items, newest first", Filter(), "ix_item_published"),
    ("a tag", Filter(tags=("rare",)), "ix_item_tag_tag_published"),
    ("a common tag", Filter(tags=("common",)), "ix_item_tag_tag_published"),
    ("a site and its subdomains", Filter(sites=("site2.example.com",)), ITEM_SITE_INDEX),
    ("a host", Filter(sites=("site3.example.com",)), ITEM_SITE_INDEX),
    ("a bookmark threshold", Filter(min_bookmarks=1000), ITEM_BOOKMARKS_INDEX),
    ("a tag but not another", Filter(tags=("other",), not_tags=("rare",)), "ix_item_tag_tag_published"),
    ("a tag and a rare word", Filter(tags=("other",), q=RARE_WORD), None),
]


@pytest.mark.parametrize(("what", "flt", "index"), CASES, ids=[c[0] for c in CASES])
def test_slice_reads_its_index(filled: Engine, what: str, flt: Filter, index: str | None) -> None:
    with filled.connect() as conn:
        indexes, whole = plan(conn, flt)
    if index is not None:
        assert index in indexes, f"{what}: plan reads {sorted(indexes)}, not {index}"
    assert not whole, f"{what}: full scan of {whole}"


def test_any_of_tags_reads_one_range_of_the_tag_index_per_tag(filled: Engine) -> None:
    """The newest 50 of each tag (an index range each, with a limit), merged: not a scan of all items."""
    with filled.connect() as conn:
        two, whole = index_reads(conn, Filter(any_tags=("rare", "common")))
        three, _ = index_reads(conn, Filter(any_tags=("rare", "common", "other")))
        rows = [v.id for v in select_slice(conn, Filter(any_tags=("rare", "other"), limit=20))]
    assert two.count("ix_item_tag_tag_published") == 2 and three.count("ix_item_tag_tag_published") == 3
    assert "ix_item_published" not in two and not whole
    # the newest items with either tag, each once: multiples of 7 or of 500 (plus one), newest first
    tagged = sorted({n for n in range(1, ITEMS + 1) if (n - 1) % 7 == 0 or (n - 1) % 500 == 0}, reverse=True)
    assert rows == tagged[:20]


def test_all_of_tags_walks_the_rarest_tag(filled: Engine) -> None:
    """Of two required tags the rarer one's range is walked (the other is tested per item)."""
    rare_id = TAGS.index("rare") + 1
    with filled.connect() as conn:
        for tags in (("common", "rare"), ("rare", "common")):
            query = slice_statement(conn, Filter(tags=tags))
            assert query is not None
            sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            assert f"JOIN item_tag ON item_tag.item_id = item.id AND item_tag.tag_id = {rare_id}" in sql
        rows = [v.id for v in select_slice(conn, Filter(tags=("common", "rare"), limit=5))]
    assert rows == [n for n in range(ITEMS, 0, -1) if (n - 1) % 500 == 0][:5]


def test_not_tag_is_an_anti_join_on_the_tag_index(filled: Engine) -> None:
    """Items without a tag: newest first, each one looked up in item_tag by (tag, item), no scan."""
    with filled.connect() as conn:
        indexes, whole = plan(conn, Filter(not_tags=("rare",)))
        rows = [v.id for v in select_slice(conn, Filter(not_tags=("other",), limit=10))]
    assert "ix_item_published" in indexes and indexes & TAG_KEYS and not whole
    assert rows == [n for n in range(ITEMS, 0, -1) if (n - 1) % 7][:10]


def test_text_search_reads_the_text_index(filled: Engine) -> None:
    """A rare word is found through the FTS table (SQLite) or the trigram index (PostgreSQL)."""
    index = FTS_TABLE if filled.dialect.name == "sqlite" else PG_INDEX
    with filled.connect() as conn:
        indexes, whole = plan(conn, Filter(q=RARE_WORD))
        upper, _ = plan(conn, Filter(q=RARE_WORD.upper()))
        rows = [v.id for v in select_slice(conn, Filter(q=RARE_WORD.title()))]
    assert index in indexes and index in upper and not whole
    assert rows == [n for n in range(ITEMS, 0, -1) if n % 1000 == 7]


def test_a_common_word_walks_the_date_index_on_sqlite(filled: Engine) -> None:
    """Most items hold "notes": reading them all from the FTS table would sort thousands for 50."""
    if filled.dialect.name != "sqlite":
        pytest.skip("PostgreSQL chooses from its statistics")
    with filled.connect() as conn:
        indexes, whole = plan(conn, Filter(q="notes on"))
        short, _ = plan(conn, Filter(q="qu"))
    assert indexes == {"ix_item_published"} and short == {"ix_item_published"} and not whole


def test_a_site_range_holds_the_host_and_its_subdomains_only(filled: Engine) -> None:
    with filled.connect() as conn:
        sites = {v.site for v in select_slice(conn, Filter(sites=("site2.example.com",), limit=500))}
        plain = {v.site for v in select_slice(conn, Filter(sites=("site3.example.com",), limit=500))}
    assert sites == {"blog.site2.example.com"}  # not site20…, site200…
    assert plain == {"site3.example.com"}


def test_a_wide_site_range_walks_the_date_index_on_sqlite(filled: Engine) -> None:
    """A site with most items is read newest first (its range would sort them all)."""
    if filled.dialect.name != "sqlite":
        pytest.skip("PostgreSQL chooses from its statistics")
    with filled.begin() as conn:
        conn.execute(ITEM.update().where(ITEM.c.id % 2 == 0).values(site="big.org", site_key="org.big."))
        indexes, whole = plan(conn, Filter(sites=("big.org",)))
        wide_bookmarks, _ = plan(conn, Filter(min_bookmarks=1))
    assert indexes == {"ix_item_published"} and not whole
    assert wide_bookmarks == {"ix_item_published"}


def test_a_dropped_index_is_seen(filled: Engine) -> None:
    """The check above is not vacuous: without the indexes the plans name none of them."""
    with filled.begin() as conn:
        conn.execute(text(f"DROP INDEX {ITEM_SITE_INDEX}"))
        conn.execute(text(f"DROP INDEX {ITEM_BOOKMARKS_INDEX}"))
        for statement in drop_statements(filled.dialect.name):
            conn.execute(text(statement))
    with filled.connect() as conn:
        site, _ = plan(conn, Filter(sites=("site3.example.com",)))
        bookmarks, _ = plan(conn, Filter(min_bookmarks=1000))
        words, _ = plan(conn, Filter(q=RARE_WORD))
    assert ITEM_SITE_INDEX not in site and ITEM_BOOKMARKS_INDEX not in bookmarks
    assert not words & {FTS_TABLE, PG_INDEX}


def test_site_keys_compare_bytewise_on_postgresql(engine: Engine) -> None:
    """A locale collation ignores dots: ``com.deeeet.blog.`` would sort after ``com.deeeet/``."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite compares text bytewise")
    with engine.connect() as conn:
        collation = conn.execute(
            text(
                "SELECT collation_name FROM information_schema.columns WHERE table_schema = current_schema()"
                " AND table_name = 'item' AND column_name = 'site_key'"
            )
        ).scalar()
    assert collation == "C"
