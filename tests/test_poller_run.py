"""poller.run: several pollers on one PostgreSQL database share the due sources; SQLite keeps one.

Real ``aggregator poll`` processes and in-process pollers against a real HTTP server on
127.0.0.1 whose request log is the witness: each due source fetched once by the group,
never more requests in flight to the host than ``per_host``, and the sources of a poller
killed with SIGKILL polled by another once its leases expire (the clock is injected: no
waiting for a lease to run out).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer, Request, Response
from procs import run_cli, start_cli
from sqlalchemy import select
from sqlalchemy.engine import Engine
from test_sources import rss

from aggregator.config import load_config
from aggregator.db import make_engine
from aggregator.poller import LOCK_NAME, Poller, RunReport
from aggregator.store import locks
from aggregator.store.sources import SOURCE


@dataclass
class Feeds:
    """``count`` feeds on one server, each answered after ``delay`` seconds, once ``held`` is set
    (which ``gate`` requests in flight at once set), counting the requests in flight at once."""

    server: FeedServer
    count: int
    delay: float = 0.0
    held: threading.Event | None = None
    gate: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for path in self.paths:
            self.server.handle(path, self._answer)

    @property
    def paths(self) -> list[str]:
        return [f"/feed{n}.xml" for n in range(self.count)]

    @property
    def urls(self) -> list[str]:
        return [self.server.url(p) for p in self.paths]

    def fetches(self) -> dict[str, int]:
        return {p: self.server.count(p) for p in self.paths}

    def _answer(self, request: Request) -> Response:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            if self.held is not None and self.gate and self.in_flight >= self.gate:
                self.held.set()
        try:
            if self.held is not None:
                self.held.wait(timeout=30)
            time.sleep(self.delay)
            return Response(200, rss(request.path.strip("/")), [("Content-Type", "application/rss+xml")])
        finally:
            with self.lock:
                self.in_flight -= 1


def write_config(path: Path, urls: list[str], **poller: Any) -> Path:
    options = {"allow_private_networks": "true", "parse_workers": 0, "interval": '"1h"', **poller}
    lines = ["[poller]", *(f"{k} = {v}" for k, v in options.items()), ""]
    for url in urls:
        lines += ["[[sources]]", f'url = "{url}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    eng = make_engine(pg_url)
    yield eng
    eng.dispose()


def polled_at(engine: Engine) -> dict[str, datetime | None]:
    with engine.connect() as conn:
        return dict(conn.execute(select(SOURCE.c.url, SOURCE.c.last_polled_at)).all())


def leases_held(engine: Engine) -> dict[str, tuple[str, datetime]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(SOURCE.c.url, SOURCE.c.lease_owner, SOURCE.c.lease_expires).where(
                SOURCE.c.lease_owner.is_not(None)
            )
        )
        return {r.url: (r.lease_owner, r.lease_expires) for r in rows}


def run_pollers(args: list[str], cwd: Path, count: int) -> list[str]:
    """Start ``count`` ``aggregator poll`` processes at once; their outputs once all exited 0."""
    procs = [start_cli(args, cwd=cwd) for _ in range(count)]
    outputs = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, err
        assert "Traceback" not in err, err
        outputs.append(out)
    return outputs


def polled_count(output: str) -> int:
    summary = output.strip().splitlines()[-1]
    return int(summary.split(" sources polled")[0])


# --------------------------------------------------------------------------- three poller processes


@pytest.mark.postgres
def test_three_pollers_fetch_each_due_source_once_within_the_per_host_limit(
    tmp_path: Path, pg_url: str, pg_engine: Engine
) -> None:
    with FeedServer() as server:
        feeds = Feeds(server, count=30, delay=0.05)
        config = write_config(tmp_path / "feeds.toml", feeds.urls, concurrency=4, per_host=3)
        args = ["--config", str(config), "--db", pg_url, "poll"]

        outputs = run_pollers(args, tmp_path, 3)
        assert feeds.fetches() == dict.fromkeys(feeds.paths, 1)
        assert sum(polled_count(out) for out in outputs) == feeds.count
        assert all(when is not None for when in polled_at(pg_engine).values())
        assert leases_held(pg_engine) == {}

        # Nothing is due any more: another poller fetches nothing.
        report = asyncio.run(Poller(pg_engine, load_config(config)).run_once())
        assert report.outcomes == []
        assert feeds.fetches() == dict.fromkeys(feeds.paths, 1)
        # Politeness held across the processes: never more requests at once than per_host.
        assert 1 <= feeds.most_in_flight <= 3
        assert server.errors == []


@pytest.mark.postgres
def test_three_forced_pollers_fetch_every_source_once(tmp_path: Path, pg_url: str, pg_engine: Engine) -> None:
    with FeedServer() as server:
        # No answer until 12 requests are in flight: each poller runs at most 4 (its concurrency),
        # so all three have joined the forced run by then.
        held = threading.Event()
        feeds = Feeds(server, count=30, held=held, gate=12)
        config = write_config(tmp_path / "feeds.toml", feeds.urls, concurrency=4, per_host=30)
        args = ["--config", str(config), "--db", pg_url, "poll"]
        held.set()
        run_pollers(args, tmp_path, 1)  # every source polled: none is due any more
        assert feeds.fetches() == dict.fromkeys(feeds.paths, 1)

        held.clear()
        outputs = run_pollers([*args, "--force"], tmp_path, 3)
        assert feeds.fetches() == dict.fromkeys(feeds.paths, 2)
        assert sum(polled_count(out) for out in outputs) == feeds.count
        assert all(polled_count(out) > 0 for out in outputs)
        assert feeds.most_in_flight == 12
        assert server.errors == []


@pytest.mark.postgres
def test_two_pollers_in_one_process_share_the_sources(pg_engine: Engine, tmp_path: Path) -> None:
    with FeedServer() as server:
        feeds = Feeds(server, count=12, delay=0.05)
        config = load_config(write_config(tmp_path / "feeds.toml", feeds.urls, concurrency=3, per_host=4))

        async def both() -> list[RunReport]:
            first, second = Poller(pg_engine, config), Poller(pg_engine, config)
            return list(await asyncio.gather(first.run_once(), second.run_once()))

        reports = asyncio.run(both())
        assert all(r.locked_by is None for r in reports)
        assert sorted(o.url for r in reports for o in r.outcomes) == sorted(feeds.urls)
        assert feeds.fetches() == dict.fromkeys(feeds.paths, 1)
        assert feeds.most_in_flight <= 4


# --------------------------------------------------------------------------- a poller killed mid-run


@pytest.mark.postgres
def test_the_sources_of_a_killed_poller_are_polled_after_its_leases_expire(
    tmp_path: Path, pg_url: str, pg_engine: Engine
) -> None:
    held = threading.Event()
    with FeedServer() as server:
        feeds = Feeds(server, count=6, held=held)
        path = write_config(tmp_path / "feeds.toml", feeds.urls, concurrency=3, per_host=10)
        config = load_config(path)
        killed = start_cli(["--config", str(path), "--db", pg_url, "poll"], cwd=tmp_path)
        try:
            deadline = time.monotonic() + 30
            while len(server.requests) < 3 and time.monotonic() < deadline and killed.poll() is None:
                time.sleep(0.02)
            assert len(server.requests) == 3, "the poller never had three fetches under way"
            os.kill(killed.pid, signal.SIGKILL)
            killed.communicate(timeout=10)
        finally:
            if killed.poll() is None:
                killed.kill()
                killed.communicate()
        held.set()
        killed_at = datetime.now(UTC)
        in_flight = {server.url(r.path) for r in server.requests}

        # Its leases outlive it: another poller takes only the sources nobody holds.
        left = leases_held(pg_engine)
        assert set(left) == in_flight
        assert all(f":{killed.pid}:" in owner and expires > killed_at for owner, expires in left.values())
        now = datetime.now(UTC)
        report = asyncio.run(Poller(pg_engine, config, clock=lambda: now).run_once())
        assert {o.url for o in report.outcomes} == set(feeds.urls) - in_flight
        # Once they expire (the poller's clock past them), the killed poller's sources are polled.
        later = max(expires for _, expires in left.values()) + timedelta(seconds=1)
        report = asyncio.run(Poller(pg_engine, config, clock=lambda: later).run_once())
        assert {o.url for o in report.outcomes} == in_flight
        assert {o.status for o in report.outcomes} == {"new"}
        # Fetched twice: the killed poller's requests and the poll after the expiry; the rest once.
        assert feeds.fetches() == {p: 2 if server.url(p) in in_flight else 1 for p in feeds.paths}
        assert leases_held(pg_engine) == {}


@pytest.mark.postgres
def test_leases_are_renewed_while_a_long_fetch_runs(pg_engine: Engine, tmp_path: Path) -> None:
    # The first poller's clock jumps far past its lease while the feed is held open; the
    # second reads the same clock, so only the first one's renewal (every ttl/3) keeps the source.
    held = threading.Event()
    with FeedServer() as server:
        feeds = Feeds(server, count=1, held=held)
        config = load_config(write_config(tmp_path / "feeds.toml", feeds.urls))
        start = datetime.now(UTC)
        now = [start]
        results: list[RunReport] = []

        def first() -> None:
            poller = Poller(pg_engine, config, lease_ttl=0.3, clock=lambda: now[0])
            results.append(asyncio.run(poller.run_once()))

        thread = threading.Thread(target=first)
        thread.start()
        try:
            assert server.wait_for(feeds.paths[0], 1, timeout=10)
            now[0] = start + timedelta(hours=1)  # a lease taken at start has long run out
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not renewed_after(pg_engine, now[0]):
                time.sleep(0.01)  # waits for the renewal task to run, not for time to pass
            second = asyncio.run(Poller(pg_engine, config, lease_ttl=0.3, clock=lambda: now[0]).run_once())
        finally:
            held.set()
            thread.join(timeout=30)
        assert second.outcomes == []
        assert [o.status for o in results[0].outcomes] == ["new"]
        assert feeds.fetches() == {feeds.paths[0]: 1}


def renewed_after(engine: Engine, when: datetime) -> bool:
    return any(expires >= when for _, expires in leases_held(engine).values())


# --------------------------------------------------------------------------- SQLite: one poller


def test_a_second_poller_on_sqlite_is_told_why_it_does_nothing(tmp_path: Path, sqlite_url: str) -> None:
    with FeedServer() as server:
        feeds = Feeds(server, count=1)
        path = write_config(tmp_path / "feeds.toml", feeds.urls)
        engine = make_engine(sqlite_url)
        try:
            owner = "other-host:4242:cafe0000"
            assert locks.acquire(engine, LOCK_NAME, owner, 600, datetime.now(UTC)) is None
        finally:
            engine.dispose()
        result = run_cli(["--config", str(path), "--db", sqlite_url, "poll"], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "another poll is running (other-host:4242:cafe0000); nothing done" in result.stdout
        assert "SQLite database has one poller at a time" in result.stdout
        assert "PostgreSQL" in result.stdout
        assert feeds.fetches() == {feeds.paths[0]: 0}
