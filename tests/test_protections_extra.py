"""Protections no other test pins down: each test here fails when its protection is removed.

- the inflater's per-call output bound (``fetch.decode``): a bomb is refused
  without ever holding more than about the cap in memory;
- ``safe_url`` on the links of the HTML listing (``pages``);
- ASCII digits only in source ids and host ports (``filters``);
- one transaction per source: items and the source's status commit together,
  and a storage failure is recorded on the source (``poller``);
- SQLite's busy timeout: a writer waits out another writer (``db``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import html5lib
import pytest
from feedserver import FeedServer
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

import aggregator.poller.source as poller_source
from aggregator import pages
from aggregator.config import parse_config
from aggregator.db import make_engine
from aggregator.errors import FetchError, QueryError
from aggregator.fetch import Fetcher, FetchLimits
from aggregator.filters import parse_filter
from aggregator.models import Item, Sighting, Source, table_of
from aggregator.poller import Poller
from aggregator.store import locks
from aggregator.store.sources import KEEP, SourceUpdate, record_poll
from aggregator.views import ItemView

MIB = 1024 * 1024
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
ITEM = table_of(Item)
SIGHTING = table_of(Sighting)
SOURCE = table_of(Source)


@pytest.fixture
def srv() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server
    assert server.errors == []


# --------------------------------------------------------------------------- fetch.decode


def _zeros(size: int, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(MIB)
    return b"".join([*(packer.compress(block) for _ in range(size // MIB)), packer.flush()])


@pytest.mark.parametrize(
    ("coding", "wbits"), [("gzip", 31), ("deflate", 15), ("deflate", -15)], ids=["gzip", "zlib", "raw"]
)
def test_compressed_body_is_inflated_in_bounded_steps(srv: FeedServer, coding: str, wbits: int) -> None:
    # 256 MiB of zeros is about 256 KB compressed: well within the cap on received bytes, so only
    # the bound on each inflate call keeps a single 64 KiB chunk from becoming 64 MiB in memory.
    srv.route("/bomb.xml", _zeros(256 * MIB, wbits), headers={"Content-Encoding": coding})
    limits = FetchLimits(connect_timeout=2.0, total_timeout=10.0, max_bytes=MIB, allow_private=True)

    async def go() -> None:
        async with Fetcher(limits) as fetcher:
            await fetcher.fetch(srv.url("/bomb.xml"))

    tracemalloc.start()
    try:
        with pytest.raises(FetchError) as info:
            asyncio.run(go())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.category == "too_large"
    assert peak < 8 * MIB, f"peak {peak / MIB:.1f} MiB"


# --------------------------------------------------------------------------- pages


def _item(link: str) -> ItemView:
    return ItemView(
        id=1,
        key=link,
        link=link,
        title="an item",
        summary=None,
        content=None,
        author=None,
        published=NOW,
        updated=NOW,
        first_seen=NOW,
        site=None,
        bookmark_count=None,
        image=None,
    )


def _hrefs(html: str) -> list[str]:
    doc = html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=False)
    return [a.get("href") or "" for a in doc.iter("a")]


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.domain)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
    ],
)
def test_listing_never_links_to_unsafe_schemes(link: str) -> None:
    html = pages.render_listing("Everything", pages.FeedLinks("Everything", "/feeds/all"), [_item(link)])
    hrefs = _hrefs(html)
    assert all(urlsplit(h).scheme in ("", "http", "https") for h in hrefs), hrefs
    assert "an item" in html


def test_listing_keeps_safe_links() -> None:
    html = pages.render_listing(
        "Everything", pages.FeedLinks("Everything", "/feeds/all"), [_item("https://example.org/a")]
    )
    assert "https://example.org/a" in _hrefs(html)


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    "params",
    [{"source": "\u0661\u0662"}, {"source": "\u09e7"}, {"site": "example.com:\u0668\u0660"}],
    ids=["source-arabic-indic", "source-bengali", "site-port-arabic-indic"],
)
def test_numbers_in_parameters_take_ascii_digits_only(params: dict[str, str]) -> None:
    with pytest.raises(QueryError) as info:
        parse_filter(params, now=NOW)
    assert info.value.param == next(iter(params))


# --------------------------------------------------------------------------- poller transactions


def _rss(links: list[str]) -> bytes:
    items = "".join(
        f"<item><title>entry {n}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
        "<pubDate>Mon, 05 Jan 2026 10:00:00 GMT</pubDate></item>"
        for n, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>one</title>'
        f"<link>http://one.example/</link><description>d</description>{items}</channel></rss>"
    ).encode()


def test_items_and_source_status_commit_together(
    engine: Engine, srv: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When recording the poll fails, the items written in the same transaction are rolled back."""

    def failing(conn: Any, source_id: int, update: SourceUpdate) -> None:
        if update.feed_title is not KEEP:  # only the write path's record, not the error record
            raise OperationalError("UPDATE source ...", {}, Exception("injected storage failure"))
        record_poll(conn, source_id, update)

    monkeypatch.setattr(poller_source, "record_poll", failing)
    srv.route(
        "/one.xml",
        _rss([f"http://one.example/post/{n}" for n in range(30)]),
        content_type="application/rss+xml",
    )
    config = parse_config(
        {
            "poller": {"allow_private_networks": True, "total_timeout": 5, "connect_timeout": 2},
            "sources": [{"url": srv.url("/one.xml"), "kind": "feed"}],
        }
    )
    report = asyncio.run(Poller(engine, config).run_once(force=True))

    assert [(o.status, o.category) for o in report.outcomes] == [("error", "storage")]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ITEM)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(SIGHTING)).scalar() == 0
        row = conn.execute(select(SOURCE.c.last_status, SOURCE.c.error_category)).one()
    assert tuple(row) == ("error", "storage")


# --------------------------------------------------------------------------- SQLite busy timeout


def test_sqlite_writer_waits_for_a_concurrent_writer(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    engine = make_engine(f"sqlite:///{path}")
    blocker = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # another process's write transaction, committed in 0.5 s
    timer = threading.Timer(0.5, blocker.execute, ("COMMIT",))
    timer.start()
    try:
        started = time.monotonic()
        holder = locks.acquire(engine, "probe", "me", 60.0, NOW)
        waited = time.monotonic() - started
    finally:
        timer.cancel()
        timer.join()
        blocker.close()
        engine.dispose()
    assert holder is None
    assert waited >= 0.3
