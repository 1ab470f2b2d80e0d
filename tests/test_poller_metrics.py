"""``poller.metrics``: each poll counted as the poller reports it, over a real poll of feeds on a
local server into SQLite and PostgreSQL; the textfile a cron run writes, added to by the next run.
Expected counts follow from the feeds served (how many, how many items, which one is broken)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer
from metricscheck import Samples, parse_metrics, value
from prometheus_client import generate_latest
from sqlalchemy.engine import Engine

from aggregator.config import Config, parse_config
from aggregator.poller import Poller, RunReport
from aggregator.poller.metrics import PollMetrics

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FEEDS = {"/a.rss": 3, "/b.rss": 1, "/c.rss": 2}  # path: items in it
BROKEN = "/missing.rss"  # answers 404


def rss(path: str, items: int) -> bytes:
    entries = "".join(
        f"<item><title>{path} {n}</title><link>https://example.org{path}/{n}</link>"
        f"<pubDate>Mon, 0{n + 1} Feb 2026 10:00:00 GMT</pubDate></item>"
        for n in range(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{path}</title>'
        f"<link>https://example.org/</link><description>d</description>{entries}</channel></rss>"
    ).encode()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        for path, items in FEEDS.items():
            srv.route(path, rss(path, items), content_type="application/rss+xml")
        yield srv


def feeds_config(srv: FeedServer) -> Config:
    urls = [srv.url(p) for p in [*FEEDS, BROKEN]]
    return parse_config({"poller": {"allow_private_networks": True}, "sources": [{"url": u} for u in urls]})


def poll(engine: Engine, config: Config, metrics: PollMetrics, when: datetime) -> RunReport:
    report = asyncio.run(Poller(engine, config, clock=lambda: when, on_outcome=metrics).run_once(force=True))
    metrics.finish_run(report, when.timestamp())
    return report


def samples_of(metrics: PollMetrics) -> Samples:
    return parse_metrics(generate_latest(metrics.registry).decode())


def test_a_poll_is_counted_by_outcome_category_and_items(engine: Engine, server: FeedServer) -> None:
    metrics = PollMetrics()
    poll(engine, feeds_config(server), metrics, T0)
    samples = samples_of(metrics)
    assert value(samples, "aggregator_polls_total", {"outcome": "new", "category": ""}) == len(FEEDS)
    assert value(samples, "aggregator_polls_total", {"outcome": "error", "category": "http_4xx"}) == 1
    assert value(samples, "aggregator_items_new_total") == sum(FEEDS.values())
    assert value(samples, "aggregator_items_updated_total") == 0
    assert value(samples, "aggregator_poll_duration_seconds_count", {"outcome": "new"}) == len(FEEDS)
    assert value(samples, "aggregator_poll_duration_seconds_count", {"outcome": "error"}) == 1
    # Fetches timed alone: every feed that was served (the broken one failed with its status).
    assert value(samples, "aggregator_fetch_duration_seconds_count") == len(FEEDS)
    assert value(samples, "aggregator_fetch_duration_seconds_sum") > 0
    assert value(samples, "aggregator_poll_runs_total", {"result": "ran"}) == 1
    assert value(samples, "aggregator_poll_last_run_timestamp_seconds") == T0.timestamp()


def test_the_textfile_keeps_counting_across_cron_runs(
    sqlite_engine: Engine, server: FeedServer, tmp_path: Path
) -> None:
    textfile = tmp_path / "aggregator.prom"
    config = feeds_config(server)
    first = PollMetrics()  # each cron run is a new process with fresh counters
    poll(sqlite_engine, config, first, T0)
    first.write_textfile(textfile)
    server.route("/a.rss", rss("/a.rss", FEEDS["/a.rss"] + 1), content_type="application/rss+xml")
    second = PollMetrics()
    later = T0 + timedelta(hours=1)
    poll(sqlite_engine, config, second, later)
    second.write_textfile(textfile)

    samples = parse_metrics(textfile.read_text(encoding="utf-8"))
    # the first run's series stay, the second run's are added, the time is the last run's
    assert value(samples, "aggregator_polls_total", {"outcome": "new", "category": ""}) == len(FEEDS) + 1
    assert (
        value(samples, "aggregator_polls_total", {"outcome": "unchanged", "category": ""}) == len(FEEDS) - 1
    )
    assert value(samples, "aggregator_polls_total", {"outcome": "error", "category": "http_4xx"}) == 2
    assert value(samples, "aggregator_items_new_total") == sum(FEEDS.values()) + 1
    assert (
        value(samples, "aggregator_poll_duration_seconds_count", {"outcome": "unchanged"}) == len(FEEDS) - 1
    )
    assert value(samples, "aggregator_poll_duration_seconds_bucket", {"outcome": "error", "le": "+Inf"}) == 2
    assert value(samples, "aggregator_poll_runs_total", {"result": "ran"}) == 2
    assert value(samples, "aggregator_poll_last_run_timestamp_seconds") == later.timestamp()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("aggregator.prom.")] == [
        "aggregator.prom.lock"
    ]


def test_an_unreadable_textfile_starts_the_counts_afresh(tmp_path: Path) -> None:
    textfile = tmp_path / "aggregator.prom"
    textfile.write_text("this is not { the text format\n", encoding="utf-8")
    metrics = PollMetrics()
    metrics.items_new.inc(4)
    metrics.write_textfile(textfile)
    assert value(parse_metrics(textfile.read_text(encoding="utf-8")), "aggregator_items_new_total") == 4
