"""``aggregator push`` and the hub's workers as processes: a worker killed with SIGKILL while a
subscriber holds the delivery open loses nothing (the delivery is made after its claim runs
out, once), and two workers on one database never deliver the same thing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer
from procs import run_cli, start_cli
from websubsite import Subscriber, config_text, hub_site

from aggregator.websub import Hub


def test_push_once_verifies_and_delivers_and_prints_what_it_did(
    db_url: str, srv: FeedServer, tmp_path: Path
) -> None:
    subscriber = Subscriber(srv)
    config = tmp_path / "feeds.toml"
    config.write_text(config_text(srv.url("/feed.xml")), encoding="utf-8")
    with hub_site(db_url, srv, start=datetime.now(UTC)) as site:
        assert site.subscribe(site.topic(), subscriber.url).status_code == 202
        args = ["--config", str(config), "--db", db_url, "push"]
        first = run_cli(args, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert "1 verified" in first.stdout
        site.publish("second")
        site.poll(push=False)
        second = run_cli(args, cwd=tmp_path)
        assert "1 delivered" in second.stdout, second.stdout + second.stderr
        assert [r.body for r in subscriber.deliveries()] == [site.get(site.topic()).content]


def test_a_worker_killed_mid_delivery_loses_nothing(db_url: str, srv: FeedServer, tmp_path: Path) -> None:
    hold = threading.Event()
    subscriber = Subscriber(srv)
    config = tmp_path / "feeds.toml"
    config.write_text(config_text(srv.url("/feed.xml")), encoding="utf-8")
    with hub_site(db_url, srv, start=datetime.now(UTC)) as site:
        topic = site.topic()
        assert site.subscribe(topic, subscriber.url).status_code == 202
        assert site.push().verified == 1
        site.publish("second")
        site.poll(push=False)  # the topic changed; nobody delivered it yet
        subscriber.hold = hold
        worker = start_cli(["--config", str(config), "--db", db_url, "push", "--loop"], cwd=tmp_path)
        try:
            assert srv.wait_for(subscriber.path, 2, timeout=30), "the worker never delivered"
            os.kill(worker.pid, signal.SIGKILL)
            worker.communicate(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
            hold.set()
        [row] = site.rows()
        assert f":{worker.pid}:" in row["claim_owner"]  # its claim outlives it
        sent = row["etag"]

        # Another worker while the claim holds takes nothing; once it runs out, it delivers.
        site.clock.now = datetime.now(UTC)
        assert site.push().delivered == 0
        site.clock.now = row["claim_expires"] + timedelta(seconds=1)
        assert site.push().delivered == 1
        assert site.push().delivered == 0
        assert len(subscriber.deliveries()) == 2  # the one cut off, and the one made after
        assert subscriber.deliveries()[-1].body == site.get(topic).content
        [row] = site.rows()
        assert row["etag"] != sent and row["claim_owner"] is None


def test_two_workers_deliver_each_change_once(db_url: str, srv: FeedServer) -> None:
    subscribers = [Subscriber(srv, path=f"/callback{n}") for n in range(6)]
    with hub_site(db_url, srv, concurrency=2) as site:
        for subscriber in subscribers:
            assert site.subscribe(site.topic(), subscriber.url).status_code == 202
        assert site.push().verified == 6
        site.publish("second")
        site.poll(push=False)
        gate = threading.Event()
        for subscriber in subscribers:
            subscriber.hold = gate  # every delivery waits until both workers have claimed
        reports = []

        def work() -> None:
            reports.append(asyncio.run(Hub(site.engine, site.config, clock=site.clock).run_once()))

        workers = [threading.Thread(target=work) for _ in range(2)]
        for thread in workers:
            thread.start()
        deadline = time.monotonic() + 20
        while sum(len(s.deliveries()) for s in subscribers) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)  # waits for both workers' first batches to arrive, not for time to pass
        gate.set()
        for thread in workers:
            thread.join(timeout=30)
        assert [len(s.deliveries()) for s in subscribers] == [1] * 6
        assert sum(r.delivered for r in reports) == 6
        assert all(r.delivered > 0 for r in reports), "one worker did everything: no overlap was tested"


@pytest.mark.parametrize("value", ["0", "abc", "7200"])
def test_push_refuses_a_bad_interval(tmp_path: Path, value: str) -> None:
    result = run_cli(["push", "--loop", "--interval", value], cwd=tmp_path)
    assert result.returncode == 2
    assert "--interval" in result.stderr
