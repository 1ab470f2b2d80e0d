"""Syncing sources from feeds.toml: an edited source is due at the next poll, a removed one is never polled.

The real poller against a real local HTTP server and a real database; the
clock is injected, and the configuration is a real file edited between polls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer, Response
from sqlalchemy import select
from sqlalchemy.engine import Engine

from aggregator.config import SourceConfig, load_config
from aggregator.models import Sighting, Source, table_of
from aggregator.poller import Poller, RunReport
from aggregator.store.sources import add_sources, due_sources, sync_sources

SOURCE = table_of(Source)
SIGHTING = table_of(Sighting)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RSS = "application/rss+xml; charset=utf-8"
PATHS = ("/a.rss", "/b.rss", "/c.rss")


def rss(name: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{name}</title><link>https://{name}.example/</link><description>d</description>"
        f"<item><title>{name} one</title><link>https://{name}.example/one</link>"
        "<pubDate>Mon, 05 Feb 2024 10:00:00 GMT</pubDate></item></channel></rss>"
    ).encode()


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return f'"{value}"'


def write_config(path: Path, sources: list[dict[str, Any]]) -> Path:
    lines = ["[poller]", "allow_private_networks = true", 'interval = "1h"', ""]
    for source in sources:
        lines += ["[[sources]]", *(f"{k} = {toml_value(v)}" for k, v in source.items()), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def poll_at(engine: Engine, path: Path, when: datetime, *, force: bool = False) -> RunReport:
    poller = Poller(engine, load_config(path), clock=lambda: when)
    return asyncio.run(poller.run_once(force=force))


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        for path in PATHS:
            srv.reply(path, Response(body=rss(path[1]), headers={"Content-Type": RSS}))
        yield srv


@pytest.mark.parametrize(
    ("change", "fetched"),
    [
        ({"tags": ["golang"]}, "/a.rss"),
        ({"kind": "site"}, "/a.rss"),
        ({"allow_private_networks": True}, "/a.rss"),
        ({"interval": "2h"}, "/a.rss"),
        ({"url": "/c.rss"}, "/c.rss"),
    ],
)
def test_an_edited_source_is_due_at_the_next_poll(
    engine: Engine, server: FeedServer, tmp_path: Path, change: dict[str, Any], fetched: str
) -> None:
    path = tmp_path / "feeds.toml"
    a = {"url": server.url("/a.rss"), "kind": "feed", "tags": ["go"]}
    b = {"url": server.url("/b.rss"), "kind": "feed"}
    write_config(path, [a, b])
    assert len(poll_at(engine, path, T0).outcomes) == 2
    assert (server.count("/a.rss"), server.count("/b.rss")) == (1, 1)

    edited = {**a, **change}
    if "url" in change:
        edited["url"] = server.url(change["url"])
    write_config(path, [edited, b])
    report = poll_at(engine, path, T0 + timedelta(minutes=10))  # the 1h interval has not elapsed

    assert [o.url for o in report.outcomes] == [server.url(fetched)]
    assert server.count(fetched) == (2 if fetched == "/a.rss" else 1)
    assert server.count("/b.rss") == 1


def test_an_unchanged_config_polls_nothing_before_the_interval(
    engine: Engine, server: FeedServer, tmp_path: Path
) -> None:
    path = write_config(tmp_path / "feeds.toml", [{"url": server.url("/a.rss"), "tags": ["go"]}])
    poll_at(engine, path, T0)
    path.write_text(path.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    assert poll_at(engine, path, T0 + timedelta(minutes=10)).outcomes == []
    assert server.count("/a.rss") == 1


def test_a_removed_source_keeps_its_items_and_is_never_polled(
    engine: Engine, server: FeedServer, tmp_path: Path
) -> None:
    path = tmp_path / "feeds.toml"
    write_config(path, [{"url": server.url("/a.rss")}, {"url": server.url("/b.rss")}])
    poll_at(engine, path, T0)
    write_config(path, [{"url": server.url("/a.rss")}])

    later = T0 + timedelta(days=2)  # both would be due
    report = poll_at(engine, path, later, force=True)

    assert [o.url for o in report.outcomes] == [server.url("/a.rss")]
    assert server.count("/b.rss") == 1
    with engine.connect() as conn:
        removed = conn.execute(select(SOURCE).where(SOURCE.c.url == server.url("/b.rss"))).mappings().one()
        kept = conn.execute(select(SIGHTING).where(SIGHTING.c.source_id == removed["id"])).all()
        assert [s.url for s in due_sources(conn, later, force=True)] == [server.url("/a.rss")]
    assert removed["enabled"] is False
    assert len(kept) == 1


def test_a_config_sync_leaves_opml_sources_alone(engine: Engine, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "feeds.toml", [{"url": "https://example.org/a.xml"}]))
    with engine.begin() as conn:
        add_sources(conn, [SourceConfig("https://example.org/opml.xml")], "opml", T0)
        assert sync_sources(conn, config.sources, T0) == (1, 0)
        rows = conn.execute(select(SOURCE.c.url, SOURCE.c.enabled, SOURCE.c.origin).order_by(SOURCE.c.id))
        assert [tuple(r) for r in rows] == [
            ("https://example.org/opml.xml", True, "opml"),
            ("https://example.org/a.xml", True, "config"),
        ]
