"""A WebSub setting for tests: the real API on 127.0.0.1 (uvicorn in a thread), a source feed
and a subscriber's callback on a real ``FeedServer``, a real database, and a clock the test moves.

``Subscriber`` answers verifications (echoing the challenge, or not) and deliveries (a status
the test sets, or a hold until the test releases it) and keeps what it received.
"""

from __future__ import annotations

import asyncio
import json
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
from feedserver import FeedServer, Request, Response
from procs import UvicornThread
from sqlalchemy import select
from sqlalchemy.engine import Engine

from aggregator.api import create_app
from aggregator.config import Config, parse_config
from aggregator.db import make_engine
from aggregator.poller import Poller
from aggregator.store.websub import SUBSCRIPTION
from aggregator.websub import Hub, HubReport

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CALLBACK = "/callback"


def feed(*titles: str) -> bytes:
    """An RSS document with one item per title (newest first)."""
    items = "".join(
        f"<item><title>{t}</title><link>https://news.example/{t}</link>"
        f"<pubDate>Mon, {5 + n:02d} Feb 2024 10:00:00 GMT</pubDate></item>"
        for n, t in enumerate(reversed(titles))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>News</title>'
        f"<link>https://news.example/</link><description>d</description>{items}</channel></rss>"
    ).encode()


class Clock:
    """A clock the test moves; never the wall clock."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def move(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Subscriber:
    """A callback on a real HTTP server: echoes the challenge (``echo``), answers POSTs with ``status``."""

    server: FeedServer
    path: str = CALLBACK
    echo: bool = True
    status: int = 204
    hold: threading.Event | None = None  # set: POSTs wait for it before answering

    def __post_init__(self) -> None:
        self.server.handle(self.path, self._answer)

    @property
    def url(self) -> str:
        return self.server.url(self.path)

    def _answer(self, request: Request) -> Response:
        if request.method == "GET":
            challenge = parse_qs(request.query).get("hub.challenge", [""])[0]
            return Response(200, challenge.encode() if self.echo else b"something else")
        if self.hold is not None:
            self.hold.wait(timeout=30)
        return Response(self.status)

    def verifications(self) -> list[dict[str, str]]:
        return [
            {k: v[0] for k, v in parse_qs(r.query).items()}
            for r in self.server.requests_to(self.path)
            if r.method == "GET"
        ]

    def deliveries(self) -> list[Request]:
        return [r for r in self.server.requests_to(self.path) if r.method == "POST"]


@dataclass
class HubSite:
    """The API serving a database that polls one source; a hub and a poller on the same clock."""

    engine: Engine
    config: Config
    clock: Clock
    api: UvicornThread
    source: FeedServer
    titles: list[str] = field(default_factory=lambda: ["first"])

    @property
    def base(self) -> str:
        return self.api.base_url

    def topic(self, path: str = "/feeds/all.atom") -> str:
        return self.base + path

    def post(self, **form: str) -> httpx.Response:
        return httpx.post(self.base + "/websub", data={f"hub.{k}": v for k, v in form.items()}, timeout=10)

    def subscribe(self, topic: str, callback: str, **form: str) -> httpx.Response:
        return self.post(mode="subscribe", topic=topic, callback=callback, **form)

    def get(self, url: str, **headers: str) -> httpx.Response:
        return httpx.get(url, headers=headers, timeout=10)

    def push(self) -> HubReport:
        return asyncio.run(Hub(self.engine, self.config, clock=self.clock).run_once())

    def publish(self, *titles: str) -> None:
        """The source's next version carries ``titles`` too."""
        self.titles = [*titles, *self.titles]
        self.source.route("/feed.xml", feed(*self.titles), content_type="application/rss+xml")

    def poll(self, *, push: bool = True) -> None:
        """A forced poll run; it delivers what changed unless ``push`` is off (as with the hub off)."""
        config = (
            self.config if push else replace(self.config, websub=replace(self.config.websub, enabled=False))
        )
        asyncio.run(Poller(self.engine, config, clock=self.clock).run_once(force=True))

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [
                dict(r) for r in conn.execute(select(SUBSCRIPTION).order_by(SUBSCRIPTION.c.id)).mappings()
            ]


def config_text(source: str, **websub: Any) -> str:
    """The site's feeds.toml: one source, a named output, the hub with ``websub`` settings."""
    settings = {"allow_private_networks": True, **websub}
    hub = "\n".join(f"{k} = {json.dumps(v)}" for k, v in settings.items())
    return (
        f'[[sources]]\nurl = "{source}"\n\n[poller]\nallow_private_networks = true\nparse_workers = 0\n\n'
        f'[websub]\n{hub}\n\n[[outputs]]\nslug = "news"\ntitle = "News"\nsite = "news.example"\n'
    )


def site_config(source: str, **websub: Any) -> Config:
    return parse_config(tomllib.loads(config_text(source, **websub)))


@contextmanager
def hub_site(db_url: str, source: FeedServer, *, start: datetime = START, **websub: Any) -> Iterator[HubSite]:
    """A site whose one source has been polled once (its first item stored), its clock at ``start``."""
    source.route("/feed.xml", feed("first"), content_type="application/rss+xml")
    config = site_config(source.url("/feed.xml"), **websub)
    engine = make_engine(db_url)
    clock = Clock(start)
    try:
        with UvicornThread(create_app(engine, config, clock=clock)) as api:
            site = HubSite(engine, config, clock, api, source)
            site.poll()
            yield site
    finally:
        engine.dispose()
