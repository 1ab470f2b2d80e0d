"""The popular and rising orders read through their indexes, on SQLite and PostgreSQL.

The items are ``test_store_slices_plan``'s; the rising order also needs a bookmark history:
five points for each item spread over 30 days. Each test EXPLAINs the statement
``select_slice`` runs and asserts the named index and no full scan.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from test_store_slices_plan import ITEMS, START, filled, plan  # noqa: F401  (filled is a fixture)

from aggregator.filters import Filter
from aggregator.models import ITEM_BOOKMARKS_INDEX, BookmarkPoint, Source, table_of
from aggregator.store.slices import select_slice

POINT = table_of(BookmarkPoint)
SOURCE = table_of(Source)
NOW = START.replace(tzinfo=UTC) + timedelta(days=40)
DAYS = 30


def point_time(item: int, k: int) -> datetime:
    """Item ``item``'s ``k``-th point (0..4): spread over the 30 days before ``NOW``."""
    return NOW - timedelta(days=DAYS) + timedelta(minutes=(item * 37 + k * 1440 * 6) % (DAYS * 1440))


@pytest.fixture
def history(filled: Engine) -> Engine:  # noqa: F811
    rows = [
        {"item_id": n, "source_id": 1, "at": point_time(n, k), "count": 10 * k + n % 3}
        for n in range(1, ITEMS + 1)
        for k in range(5)
    ]
    with filled.begin() as conn:
        if not conn.execute(select(SOURCE.c.id).where(SOURCE.c.id == 1)).first():
            conn.execute(
                SOURCE.insert().values(id=1, url="https://hatena.test/site.rss", kind="site", tags=[])
            )
        conn.execute(POINT.insert(), rows)
    if filled.dialect.name == "postgresql":
        with filled.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE bookmark_point"))
    return filled


def test_popular_walks_the_bookmark_index(filled: Engine) -> None:  # noqa: F811
    with filled.connect() as conn:
        indexes, whole = plan(conn, Filter(sort="popular"))
        top = [v.bookmark_count for v in select_slice(conn, Filter(sort="popular", limit=8))]
    assert ITEM_BOOKMARKS_INDEX in indexes and not whole
    # the test's counts: 5000 + n for every thousandth item, n % 7 for the others
    assert top == [5000 + n for n in range(ITEMS, 0, -1000)] + [6, 6]


def test_rising_finds_its_candidates_in_the_window_of_the_point_index(history: Engine) -> None:
    """The items with a point in the window come from that range of (at, item_id); their
    points at the window's edges from the primary key. Scans of the derived tables are fine."""
    flt = Filter(sort="rising", as_of=NOW)
    with history.connect() as conn:
        indexes, scans = plan(conn, Filter(sort="rising", window=3600, as_of=NOW))
        rows = select_slice(conn, flt)
    whole = [s for s in scans if s.removeprefix("SCAN ") in ("item", "bookmark_point")]
    assert "ix_bookmark_point_at" in indexes and not whole, (indexes, scans)
    day_ago = NOW - timedelta(days=1)
    moved = {n for n in range(1, ITEMS + 1) for k in range(1, 5) if point_time(n, k) > day_ago}
    assert rows and {v.id for v in rows} <= moved
    assert all(v.growth == 10 for v in rows)  # one step of 10 in a day: every point is 6 days apart
