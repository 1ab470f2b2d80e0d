"""A feed that parses only partly, end to end: a real HTTP server on 127.0.0.1, a real database.

What survived is stored, the source stays ok, and its warning (what was wrong,
how many entries were kept) shows in ``aggregator sources`` (text and --json),
``/api/sources`` and the home page, until a poll parses cleanly. A harmless
feedparser note (an encoding override) is no warning.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

import pytest
from feedserver import FeedServer
from sqlalchemy import select
from sqlalchemy.engine import Engine

from aggregator import cli
from aggregator.api import create_app
from aggregator.config import Config, parse_config
from aggregator.models import Item, Source, table_of
from aggregator.parse import ENTITY_EXPANSION_FLOOR
from aggregator.poller import Poller, SourceOutcome

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SOURCE = table_of(Source)
ITEM = table_of(Item)
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
RSS = "application/rss+xml; charset=utf-8"
BIG = "x" * 10 * 1024


def blog(count: int) -> bytes:
    items = "".join(
        f"<item><title>Post {n}</title><link>https://blog.example/{n}</link>"
        f"<description>{escape(f'Text of post {n}')}</description>"
        f"<pubDate>Mon, 03 Feb 2025 10:{n:02d}:00 GMT</pubDate></item>\n"
        for n in range(count)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Blog</title>'
        f"<link>https://blog.example/</link>\n{items}</channel></rss>\n"
    ).encode()


def config_for(url: str) -> Config:
    options = {"allow_private_networks": True, "total_timeout": 5, "connect_timeout": 2}
    return parse_config({"sources": [{"url": url}], "poller": options})


def poll(engine: Engine, config: Config) -> SourceOutcome:
    report = asyncio.run(Poller(engine, config, clock=lambda: NOW).run_once(force=True))
    (outcome,) = report.outcomes
    return outcome


def source_row(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(SOURCE)).mappings().one())


def stored_links(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(ITEM.c.link)).scalars())


@pytest.fixture
def srv() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def test_truncated_feed_is_stored_and_warned_everywhere_until_a_clean_poll(
    engine: Engine,
    db_url: str,
    srv: FeedServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    full = blog(10)
    truncated = full[: full.index(b"<item><title>Post 8") + len(b"<item><title>Po")]
    complete = truncated.count(b"</item>")
    srv.conditional("/blog.rss", truncated, etag='"cut"')
    url = srv.url("/blog.rss")
    config = config_for(url)

    with caplog.at_level(logging.WARNING, logger="aggregator.poller"):
        outcome = poll(engine, config)
    assert (outcome.status, outcome.new) == ("new", complete)
    assert stored_links(engine) == sorted(f"https://blog.example/{n}" for n in range(complete))
    row = source_row(engine)
    assert (row["last_status"], row["last_error"], row["error_category"]) == ("new", None, None)
    warning = row["last_warning"]
    assert warning is not None and "document truncated at line" in warning
    assert warning.endswith(f"incomplete last entry dropped; kept {complete} of {complete + 1} entries")
    assert outcome.message == warning
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"{url}: stored what the feed parser recovered: {warning}"
    ]

    capsys.readouterr()
    assert cli.main(["--db", db_url, "sources", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["last_warning"] == warning
    assert cli.main(["--db", db_url, "sources"]) == 0
    assert f"warning: {warning}" in capsys.readouterr().out

    with TestClient(create_app(engine, config, clock=lambda: NOW)) as client:
        (api_source,) = client.get("/api/sources").json()
        assert api_source["last_warning"] == warning
        assert api_source["last_status"] == "new"
        assert f"warning: {html.escape(warning)}" in client.get("/").text

        # 304 and the same body say nothing new about the document: the warning stays.
        assert poll(engine, config).status == "not_modified"
        assert source_row(engine)["last_warning"] == warning
        srv.route("/blog.rss", truncated, content_type=RSS)
        assert poll(engine, config).status == "unchanged"
        assert source_row(engine)["last_warning"] == warning

        srv.route("/blog.rss", full, content_type=RSS)
        assert poll(engine, config).new == 10 - complete
        assert source_row(engine)["last_warning"] is None
        assert client.get("/api/sources").json()[0]["last_warning"] is None
        assert "warning:" not in client.get("/").text


def test_entity_expanded_fifty_times_is_stored_bounded_and_flagged(engine: Engine, srv: FeedServer) -> None:
    refs = 50
    items = "".join(
        f"<item><title>Post {n}</title><link>https://blog.example/{n}</link>"
        f"<description>&big; {n}</description></item>"
        for n in range(refs)
    )
    body = (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY big "{BIG}">\n]>\n<rss version="2.0"><channel>'
        f"<title>Entities</title><link>https://blog.example/</link>{items}</channel></rss>"
    ).encode()
    fitting = max(ENTITY_EXPANSION_FLOOR, len(body)) // len(BIG)
    srv.route("/entities.rss", body, content_type=RSS)
    outcome = poll(engine, config_for(srv.url("/entities.rss")))
    assert (outcome.status, outcome.new) == ("new", fitting)
    with engine.connect() as conn:
        summaries = list(conn.execute(select(ITEM.c.summary)).scalars())
    stored = sum(len(s or "") for s in summaries)
    assert stored < 100 * 1024 < refs * len(BIG)  # not the 500 KB the references would expand to
    assert sorted(summaries) == sorted(f"{BIG} {n}" for n in range(fitting))
    warning = source_row(engine)["last_warning"]
    assert warning is not None and warning.startswith("entity expansion capped at")
    assert warning.endswith(f"{refs - fitting} references not expanded; kept {fitting} of {refs} entries")


def test_encoding_override_is_no_warning(engine: Engine, srv: FeedServer) -> None:
    body = blog(3).replace(b"Post 1", "日本語の記事".encode())
    srv.route("/plain.rss", body, content_type="text/plain")  # feedparser calls this an override
    outcome = poll(engine, config_for(srv.url("/plain.rss")))
    assert (outcome.status, outcome.new) == ("new", 3)
    row = source_row(engine)
    assert (row["last_status"], row["last_warning"]) == ("new", None)
