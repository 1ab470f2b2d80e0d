"""``store.audience``: a source made private disappears from public reads at once (its items, its
tags, the text it gave); made public again, its items come back once it has been read again."""

from __future__ import annotations

import warnings
from dataclasses import replace

from feedserver import FeedServer, Response
from privatefeeds import NOW, PRIVATE_RSS, PUBLIC_RSS, RSS, SECRET_PATH, poll, private_config
from sqlalchemy.engine import Engine

from aggregator.api import create_app
from aggregator.config import Config
from aggregator.store.common import transaction
from aggregator.store.sources import sync_sources

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def public_view(engine: Engine, config: Config) -> tuple[list[str], list[str], list[str]]:
    """(item titles, tag names, source URLs) as the public sees them."""
    with TestClient(create_app(engine, config, clock=lambda: NOW)) as c:
        titles = [i["title"] for i in c.get("/api/items").json()["items"]]
        tags = [t["name"] for t in c.get("/api/tags").json()]
        sources = [s["url"] for s in c.get("/api/sources").json()]
    return titles, tags, sources


def test_a_source_made_private_leaves_public_reads_at_once_and_comes_back_when_read_again(
    engine: Engine,
) -> None:
    with FeedServer() as srv:
        srv.reply("/public.rss", Response(body=PUBLIC_RSS, headers={"Content-Type": RSS}))
        srv.reply(SECRET_PATH, Response(body=PRIVATE_RSS, headers={"Content-Type": RSS}))
        config = private_config(srv.base_url)
        poll(engine, config)
        before = public_view(engine, config)
        hidden = replace(config, sources=tuple(replace(s, private=True) for s in config.sources))
        with transaction(engine) as conn:
            sync_sources(conn, hidden.sources, NOW)
        while_private = public_view(engine, hidden)
        with transaction(engine) as conn:
            sync_sources(conn, config.sources, NOW)
        tags_back = public_view(engine, config)[1]
        poll(engine, config)
        after = public_view(engine, config)
    public_url = srv.base_url + "/public.rss"
    assert before == (["Shared article", "Public only"], ["golang"], [public_url])
    assert while_private == ([], [], [])
    assert tags_back == ["golang"]
    assert after == before
