"""Every slice shape is read through its index, on SQLite and PostgreSQL: a lost index fails here.

The database holds enough items for the planner to prefer the index (PostgreSQL is
ANALYZEd, as autovacuum would; SQLite has no statistics, as in production). Each test
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
from aggregator.store.slices import slice_statement

ITEM = table_of(Item)
ITEM_TAG = table_of(ItemTag)
TAG = table_of(Tag)
ITEMS = 6000
SITES = 600  # ten items each; every third on a subdomain (blog.site2.example.com)
TAGS = ("common", "rare")
START = datetime(2025, 1, 1)  # naive UTC, as stored


def site_of(n: int) -> str:
    rank = n % SITES
    return f"blog.site{rank}.example.com" if rank % 3 == 2 else f"site{rank}.example.com"


def item_row(n: int) -> dict[str, Any]:
    link = f"https://{site_of(n)}/posts/{n}"
    when = START + timedelta(minutes=n)
    return {
        "id": n, "key_hash": hash_text(link), "key": link, "link": link, "title": f"item {n}",
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
        conn.execute(ITEM_TAG.insert(), links)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE item"))
            conn.execute(text("ANALYZE item_tag"))
    return engine


def plan(conn: Connection, flt: Filter) -> tuple[set[str], list[str]]:
    """(index names the plan reads, tables it scans whole) for the statement select_slice runs."""
    query = slice_statement(conn, flt)
    assert query is not None
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "sqlite":
        details = [str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
        indexes = {d.split("USING INDEX ")[1].split()[0] for d in details if "USING INDEX " in d}
        if any("USING INTEGER PRIMARY KEY" in d or "USING ROWID" in d for d in details):
            indexes.add("(primary key)")
        # "SCAN item" alone reads the table; "SCAN item USING INDEX ix" walks an index in order.
        whole = [d for d in details if d.startswith("SCAN ") and "USING" not in d]
        return indexes, whole
    raw = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}").scalar()
    nodes = _pg_nodes((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"])
    indexes = {n["Index Name"] for n in nodes if "Index Name" in n}
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
]


@pytest.mark.parametrize(("what", "flt", "index"), CASES, ids=[c[0] for c in CASES])
def test_slice_reads_its_index(filled: Engine, what: str, flt: Filter, index: str) -> None:
    with filled.connect() as conn:
        indexes, whole = plan(conn, flt)
    assert index in indexes, f"{what}: plan reads {sorted(indexes)}, not {index}"
    assert not whole, f"{what}: full scan of {whole}"


def test_a_site_range_holds_the_host_and_its_subdomains_only(filled: Engine) -> None:
    from aggregator.store.slices import select_slice

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
    """The check above is not vacuous: without the indexes the plans name neither."""
    with filled.begin() as conn:
        conn.execute(text(f"DROP INDEX {ITEM_SITE_INDEX}"))
        conn.execute(text(f"DROP INDEX {ITEM_BOOKMARKS_INDEX}"))
    with filled.connect() as conn:
        site, _ = plan(conn, Filter(sites=("site3.example.com",)))
        bookmarks, _ = plan(conn, Filter(min_bookmarks=1000))
    assert ITEM_SITE_INDEX not in site and ITEM_BOOKMARKS_INDEX not in bookmarks


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
