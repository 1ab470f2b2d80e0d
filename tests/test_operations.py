"""Operations hardening: a killed poll, stale locks, a busy SQLite writer, a full disk, no database.

Every test runs the real pieces: the CLI as a subprocess, the poller against a
real local HTTP server, uvicorn on a loopback port, SQLite files in tmp_path.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import httpx
import pytest
from feedserver import FeedServer, Request, Response
from procs import UvicornThread, run_cli, start_cli
from sqlalchemy import event, insert, select
from sqlalchemy.engine import Engine

from aggregator.api import create_app
from aggregator.config import Config, parse_config
from aggregator.db import make_engine
from aggregator.models import RunLock, table_of
from aggregator.poller import Poller

LOCK = table_of(RunLock)
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- helpers


def rss(name: str, links: list[str], *, summary_words: int = 20) -> bytes:
    entries = "".join(
        "<item>"
        f"<title>{escape(name)} entry {n}</title>"
        f"<link>{escape(link)}</link>"
        f"<guid>{escape(link)}</guid>"
        f"<pubDate>{format_datetime(T0 - timedelta(minutes=n))}</pubDate>"
        f"<description>{escape(' '.join([f'{name}-{n}'] * summary_words))}</description>"
        "</item>"
        for n, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(name)}</title><link>http://{name}.example/</link><description>d</description>"
        f"{entries}</channel></rss>"
    ).encode()


def write_config(path: Path, urls: list[str], **poller: Any) -> Path:
    options = {"allow_private_networks": "true", **{k: str(v) for k, v in poller.items()}}
    lines = ["[poller]", *(f"{k} = {v}" for k, v in options.items()), ""]
    for url in urls:
        lines += ["[[sources]]", f'url = "{url}"', 'kind = "feed"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def config_for(urls: list[str]) -> Config:
    return parse_config(
        {
            "poller": {"allow_private_networks": True},
            "sources": [{"url": u, "kind": "feed"} for u in urls],
        }
    )


def db_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def sqlite_connect(path: Path) -> sqlite3.Connection:
    """A plain connection that never creates the file, as an operator's sqlite3 shell would."""
    conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=10, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def integrity(path: Path) -> str:
    conn = sqlite_connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def links_by_source(path: Path) -> dict[str, set[str]]:
    conn = sqlite_connect(path)
    try:
        found: dict[str, set[str]] = {u: set() for (u,) in conn.execute("SELECT url FROM source")}
        for url, link in conn.execute(
            "SELECT source.url, item.link FROM sighting "
            "JOIN source ON source.id = sighting.source_id JOIN item ON item.id = sighting.item_id"
        ):
            found[url].add(link)
        return found
    finally:
        conn.close()


def polled_sources(path: Path) -> set[str]:
    conn = sqlite_connect(path)
    try:
        return {u for (u,) in conn.execute("SELECT url FROM source WHERE last_polled_at IS NOT NULL")}
    finally:
        conn.close()


def lock_row(path: Path) -> tuple[str | None, str | None]:
    conn = sqlite_connect(path)
    try:
        row = conn.execute("SELECT owner, expires_at FROM run_lock WHERE name = 'poll'").fetchone()
        return (row[0], row[1]) if row else (None, None)
    finally:
        conn.close()


def run_state(path: Path, sources: int) -> tuple[int, bool] | None:
    """How many of ``sources`` a run has polled, and whether a write transaction is open now.

    None until the run has registered every source. The open write shows as
    the database refusing ``BEGIN IMMEDIATE`` at once; when it does not
    refuse, the probe rolls back straight away.
    """
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=0, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        total, polled = conn.execute("SELECT count(*), count(last_polled_at) FROM source").fetchone()
        if total != sources:
            return None
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return int(polled), True
        conn.execute("ROLLBACK")
        return int(polled), False
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    return proc.pid


@dataclass(frozen=True)
class Served:
    server: FeedServer
    feeds: dict[str, list[str]]  # source URL -> the links of its entries

    @property
    def urls(self) -> list[str]:
        return list(self.feeds)

    def all_links(self) -> set[str]:
        return {link for links in self.feeds.values() for link in links}


# --------------------------------------------------------------------------- 1. kill -9 mid-run


FAST_SOURCES = 6
ITEMS_PER_SOURCE = 900
SHARED_ITEMS = 40


@pytest.fixture
def busy_feeds() -> Iterator[tuple[Served, threading.Event]]:
    """Large feeds sharing some items, and one that answers only after a minute until released."""
    release = threading.Event()
    with FeedServer() as srv:
        feeds: dict[str, list[str]] = {}
        shared = [f"http://shared.example/post/{n}" for n in range(SHARED_ITEMS)]
        for s in range(FAST_SOURCES):
            own = [f"http://site{s}.example/post/{n}" for n in range(ITEMS_PER_SOURCE - SHARED_ITEMS)]
            links = shared + own
            srv.route(f"/feed{s}.xml", rss(f"feed{s}", links), content_type="application/rss+xml")
            feeds[srv.url(f"/feed{s}.xml")] = links
        slow_links = [f"http://slow.example/post/{n}" for n in range(50)]
        slow_body = rss("slow", slow_links)

        def slow(_request: Request) -> Response:
            return Response(
                200,
                slow_body,
                [("Content-Type", "application/rss+xml")],
                delay=0.0 if release.is_set() else 60.0,
            )

        srv.handle("/slow.xml", slow)
        feeds[srv.url("/slow.xml")] = slow_links
        yield Served(srv, feeds), release


SEED_ENV = "AGGREGATOR_TEST_SEED"


def kill_point_random() -> tuple[random.Random, int]:
    """A generator for the kill point, seeded from $AGGREGATOR_TEST_SEED or afresh; the seed is printed."""
    chosen = os.environ.get(SEED_ENV)
    seed = int(chosen) if chosen else random.SystemRandom().randrange(2**32)
    print(f"kill point seed {seed}: rerun with {SEED_ENV}={seed}")
    return random.Random(seed), seed


def test_kill_9_mid_poll_then_rerun(
    tmp_path: Path, sqlite_url: str, busy_feeds: tuple[Served, threading.Event]
) -> None:
    served, release = busy_feeds
    config = write_config(tmp_path / "feeds.toml", served.urls, concurrency=16, per_host=16, total_timeout=40)
    path = db_path(sqlite_url)
    args = ["--config", str(config), "--db", sqlite_url, "poll", "--force"]
    # Kill inside a write: the n-th time one is seen open once k sources are in (or, should the
    # writes outrun the probe, once every fast source is in and only the slow one is left).
    rng, seed = kill_point_random()
    after_sources = rng.randint(1, FAST_SOURCES - 1)
    writes_seen_at_kill = rng.randint(1, 60)
    where = (
        f"kill after {after_sources} sources, write seen {writes_seen_at_kill} times"
        f" (reproduce: {SEED_ENV}={seed})"
    )

    proc = start_cli(args, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        writes_seen = 0
        polled = 0
        while time.monotonic() < deadline and proc.poll() is None:
            state = run_state(path, len(served.urls))
            if state is not None:
                polled, writing = state
                writes_seen += writing and polled >= after_sources
                if writes_seen >= writes_seen_at_kill or polled >= FAST_SOURCES:
                    break
            time.sleep(0.001)
        assert proc.poll() is None, f"the poll ended before it could be killed: {proc.communicate()}"
        assert 0 < polled < len(served.urls), f"never mid-run ({where})"
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    release.set()

    # What the killed run left: a sound file, whole sources only, its lease still unexpired.
    assert integrity(path) == "ok"
    left = links_by_source(path)
    written = [url for url, links in left.items() if links]
    assert written, "the killed run committed nothing"
    assert len(written) < len(served.urls)
    for url, links in left.items():
        assert links in (set(), set(served.feeds[url])), f"{url}: {len(links)} sightings ({where})"
    assert set(written) == polled_sources(path), where
    owner, expires = lock_row(path)
    assert owner is not None and f":{proc.pid}:" in owner
    assert expires is not None and datetime.fromisoformat(expires) > datetime.now(UTC).replace(tzinfo=None)

    rerun = run_cli(args, cwd=tmp_path, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    assert "another poll is running" not in rerun.stdout
    assert f"{len(served.urls)} sources polled" in rerun.stdout, rerun.stdout
    assert "Traceback" not in rerun.stderr

    assert integrity(path) == "ok"
    after = links_by_source(path)
    for url, links in served.feeds.items():
        assert after[url] == set(links), f"{url}: {len(after[url])} of {len(links)} entries"
    conn = sqlite_connect(path)
    try:
        items, keys, hashes = conn.execute(
            "SELECT count(*), count(DISTINCT key), count(DISTINCT key_hash) FROM item"
        ).fetchone()
        stored = {link for (link,) in conn.execute("SELECT link FROM item")}
        statuses = {status for (status,) in conn.execute("SELECT last_status FROM source")}
    finally:
        conn.close()
    assert items == keys == hashes == len(served.all_links())
    assert stored == served.all_links()
    assert statuses <= {"new", "updated", "unchanged"}
    assert lock_row(path)[0] is None


# --------------------------------------------------------------------------- 2. stale locks


@pytest.fixture
def one_feed() -> Iterator[Served]:
    with FeedServer() as srv:
        links = [f"http://one.example/post/{n}" for n in range(5)]
        srv.route("/one.xml", rss("one", links), content_type="application/rss+xml")
        yield Served(srv, {srv.url("/one.xml"): links})


def _plant_lock(url: str, owner: str, expires_in: timedelta) -> None:
    engine = make_engine(url)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(LOCK).values(
                    name="poll",
                    owner=owner,
                    acquired_at=now - timedelta(hours=2),
                    expires_at=now + expires_in,
                )
            )
    finally:
        engine.dispose()


def _lock(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(LOCK).where(LOCK.c.name == "poll")).mappings().one())
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("owner", "expires_in", "taken_over"),
    [
        ("otherhost:123:abc", timedelta(minutes=-5), True),
        ("otherhost:123:abc", timedelta(minutes=30), False),
        ("{host}:{live}:abc", timedelta(minutes=30), False),
        ("{host}:{dead}:abc", timedelta(minutes=30), True),
    ],
    ids=["other-host-expired", "other-host-live-lease", "this-host-live-pid", "this-host-dead-pid"],
)
def test_stale_lock(
    tmp_path: Path, sqlite_url: str, one_feed: Served, owner: str, expires_in: timedelta, taken_over: bool
) -> None:
    owner = owner.format(
        host=socket.gethostname(), live=os.getpid(), dead=dead_pid() if "{dead}" in owner else 0
    )
    _plant_lock(sqlite_url, owner, expires_in)
    config = write_config(tmp_path / "feeds.toml", one_feed.urls)

    result = run_cli(["--config", str(config), "--db", sqlite_url, "poll", "--force"], cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    (url,) = one_feed.urls
    if taken_over:
        assert "1 sources polled" in result.stdout, result.stdout
        assert one_feed.server.count("/one.xml") == 1
        assert links_by_source(db_path(sqlite_url))[url] == set(one_feed.feeds[url])
        assert _lock(sqlite_url)["owner"] is None
    else:
        assert f"another poll is running ({owner})" in result.stdout, result.stdout
        assert one_feed.server.count("/one.xml") == 0
        assert links_by_source(db_path(sqlite_url)) == {}
        lock = _lock(sqlite_url)
        assert lock["owner"] == owner
        assert lock["expires_at"] > datetime.now(UTC)


# --------------------------------------------------------------------------- 3. a busy SQLite writer


def _hold_write_transaction(path: Path) -> sqlite3.Connection:
    """BEGIN IMMEDIATE and insert more than the page cache holds, so the writer spills to the file."""
    writer = sqlite_connect(path)
    writer.execute("CREATE TABLE IF NOT EXISTS ops_scratch (n INTEGER PRIMARY KEY, payload BLOB)")
    writer.execute("PRAGMA cache_size=-64")
    writer.execute("BEGIN IMMEDIATE")
    writer.executemany(
        "INSERT INTO ops_scratch (payload) VALUES (?)", ((os.urandom(4096),) for _ in range(512))
    )
    return writer


def test_api_serves_while_a_writer_holds_the_database(
    tmp_path: Path, sqlite_url: str, one_feed: Served
) -> None:
    engine = make_engine(sqlite_url)
    config = config_for(one_feed.urls)
    report = asyncio.run(Poller(engine, config).run_once(force=True))
    assert [o.status for o in report.outcomes] == ["new"]

    with UvicornThread(create_app(engine, config)) as server:
        writer = _hold_write_transaction(db_path(sqlite_url))
        held_since = time.monotonic()
        results: list[tuple[str, int, float]] = []
        lock = threading.Lock()

        def reader(path: str) -> None:
            with httpx.Client(base_url=server.base_url, timeout=10.0) as client:
                while time.monotonic() - held_since < 2.0:
                    started = time.monotonic()
                    status = client.get(path).status_code
                    with lock:
                        results.append((path, status, time.monotonic() - started))

        try:
            with ThreadPoolExecutor(max_workers=4) as pool:
                futures = [pool.submit(reader, p) for p in ["/feeds/all.atom", "/api/items"] * 2]
                for future in futures:
                    future.result(timeout=30)
            held_for = time.monotonic() - held_since
        finally:
            writer.execute("COMMIT")
            writer.close()
        after = httpx.get(server.base_url + "/api/items", timeout=10.0)

    engine.dispose()
    assert held_for >= 2.0
    assert results and {status for _, status, _ in results} == {200}, results[:5]
    assert {p for p, _, _ in results} == {"/feeds/all.atom", "/api/items"}
    assert max(elapsed for _, _, elapsed in results) < 1.5
    assert after.status_code == 200
    assert len(after.json()["items"]) == 5


def test_poller_writes_while_a_long_read_transaction_is_open(tmp_path: Path, sqlite_url: str) -> None:
    with FeedServer() as srv:
        first = [f"http://first.example/post/{n}" for n in range(20)]
        second = [f"http://second.example/post/{n}" for n in range(200)]
        srv.route("/first.xml", rss("first", first))
        srv.route("/second.xml", rss("second", second))
        engine = make_engine(sqlite_url)
        report = asyncio.run(Poller(engine, config_for([srv.url("/first.xml")])).run_once(force=True))
        assert [o.status for o in report.outcomes] == ["new"]

        reader = sqlite_connect(db_path(sqlite_url))
        try:
            reader.execute("BEGIN")
            assert reader.execute("SELECT count(*) FROM item").fetchone()[0] == 20
            started = time.monotonic()
            config = config_for([srv.url("/first.xml"), srv.url("/second.xml")])
            report = asyncio.run(Poller(engine, config).run_once(force=True))
            elapsed = time.monotonic() - started
            assert reader.execute("SELECT count(*) FROM item").fetchone()[0] == 20
            reader.execute("COMMIT")
            assert reader.execute("SELECT count(*) FROM item").fetchone()[0] == 220
        finally:
            reader.close()
        engine.dispose()
    outcomes = {o.url: o for o in report.outcomes}
    assert outcomes[srv.url("/second.xml")].status == "new", outcomes
    assert outcomes[srv.url("/second.xml")].new == 200
    assert outcomes[srv.url("/first.xml")].status == "unchanged"
    assert elapsed < 5.0
    assert integrity(db_path(sqlite_url)) == "ok"


# --------------------------------------------------------------------------- 4. disk full


def _capped_engine(url: str, headroom_pages: int) -> Engine:
    """An engine whose every connection may grow the file only ``headroom_pages`` past its size now."""
    path = db_path(url)
    conn = sqlite_connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    finally:
        conn.close()
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def cap(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count={pages + headroom_pages}")
        cursor.close()

    engine.dispose()
    return engine


def _table_dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite_connect(path)
    try:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in ("item", "sighting", "tag", "item_tag")
        }
    finally:
        conn.close()


def test_disk_full_is_a_storage_error_on_the_source(tmp_path: Path, sqlite_url: str) -> None:
    small = [f"http://small.example/post/{n}" for n in range(10)]
    large = [f"http://large.example/post/{n}" for n in range(1000)]
    path = db_path(sqlite_url)
    with FeedServer() as srv:
        srv.route("/small.xml", rss("small", small))
        srv.route("/large.xml", rss("large", large, summary_words=60))
        config = config_for([srv.url("/small.xml"), srv.url("/large.xml")])
        only_small = config_for([srv.url("/small.xml")])

        engine = make_engine(sqlite_url)
        assert [o.status for o in asyncio.run(Poller(engine, only_small).run_once(force=True)).outcomes] == [
            "new"
        ]
        engine.dispose()
        before = _table_dump(path)

        capped = _capped_engine(sqlite_url, headroom_pages=4)
        report = asyncio.run(Poller(capped, config).run_once(force=True))
        with capped.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA max_page_count").scalar() < 10_000
        capped.dispose()

        outcomes = {o.url: o for o in report.outcomes}
        failed = outcomes[srv.url("/large.xml")]
        assert failed.status == "error"
        assert failed.category == "storage"
        assert failed.message is not None and "database or disk is full" in failed.message
        assert outcomes[srv.url("/small.xml")].status == "unchanged"
        conn = sqlite_connect(path)
        try:
            row = conn.execute(
                "SELECT last_status, error_category, last_error FROM source WHERE url = ?",
                (srv.url("/large.xml"),),
            ).fetchone()
        finally:
            conn.close()
        assert row[0] == "error" and row[1] == "storage"
        assert "database or disk is full" in row[2]
        assert _table_dump(path) == before
        assert integrity(path) == "ok"
        assert links_by_source(path)[srv.url("/small.xml")] == set(small)

        engine = make_engine(sqlite_url)
        report = asyncio.run(Poller(engine, config).run_once(force=True))
        engine.dispose()
    outcomes = {o.url: o for o in report.outcomes}
    assert outcomes[srv.url("/large.xml")].status == "new"
    assert outcomes[srv.url("/large.xml")].new == 1000
    assert links_by_source(path)[srv.url("/large.xml")] == set(large)
    assert integrity(path) == "ok"


# --------------------------------------------------------------------------- 5. no database


def _assert_clean_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    assert result.stderr.startswith("aggregator: storage error:"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_unreachable_postgresql_exits_1_without_traceback(tmp_path: Path) -> None:
    config = write_config(tmp_path / "feeds.toml", ["http://127.0.0.1:9/feed.xml"])
    url = "postgresql://aggregator:s3cret-pw@127.0.0.1:1/aggregator"
    for command in (["poll"], ["sources", "--json"]):
        result = run_cli(["--config", str(config), "--db", url, *command], cwd=tmp_path, timeout=60)
        _assert_clean_failure(result, "cannot reach database", "127.0.0.1", "refused")
        assert "s3cret-pw" not in result.stdout + result.stderr


def test_sqlite_path_that_cannot_be_a_file_exits_1_without_traceback(tmp_path: Path) -> None:
    config = write_config(tmp_path / "feeds.toml", ["http://127.0.0.1:9/feed.xml"])
    directory = tmp_path / "aggregator.db"
    directory.mkdir()
    plain_file = tmp_path / "plain"
    plain_file.write_text("not a directory")
    for target in (directory, plain_file / "aggregator.db"):
        result = run_cli(["--config", str(config), "--db", f"sqlite:///{target}", "poll"], cwd=tmp_path)
        _assert_clean_failure(result, "unable to open database file")
    assert directory.is_dir() and not any(directory.iterdir())
    assert plain_file.read_text() == "not a directory"
