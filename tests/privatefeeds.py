"""A public feed and a private bookmark feed served over real HTTP and polled into a real database.

The private source carries markers no public source says: an item only it has (title, tag, user,
comment, bookmark count), and its own words about an item a public feed publishes too. Its URL has
a secret path segment. ``MARKERS`` lists them; ``polled_private`` polls the private feed first (so
the shared item changes hands when the public feed brings it) and yields the database, the
configuration and a token of the private output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feedserver import FeedServer, Response
from sqlalchemy.engine import Engine

from aggregator.config import Config, parse_config
from aggregator.poller import Poller
from aggregator.store.common import transaction
from aggregator.store.tokens import create_token

NOW = datetime(2026, 3, 1, tzinfo=UTC)
SECRET_PATH = "/secret-path-zq9/bookmarks.rss"
PRIVATE_OUTPUT = "reading-list"
PUBLIC_OUTPUT = "golang-picks"
SHARED_LINK = "https://pub.example/posts/shared"
RSS = "application/rss+xml"

PUBLIC_RSS = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Public blog</title><link>https://pub.example/</link>
<description>the public feed</description>
<item><title>Shared article</title><link>{SHARED_LINK}</link>
<pubDate>Mon, 03 Feb 2025 10:00:00 +0000</pubDate><category>golang</category>
<description>What the publisher wrote.</description></item>
<item><title>Public only</title><link>https://pub.example/posts/only</link>
<pubDate>Sun, 02 Feb 2025 10:00:00 +0000</pubDate><category>golang</category>
<description>Only here.</description></item>
</channel></rss>
""".encode()

PRIVATE_RSS = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:hatena="http://www.hatena.ne.jp/info/xmlns#">
<channel><title>My bookmarks</title><link>https://bookmarks.example/me</link>
<description>private bookmarks</description>
<item><title>Zanzibar plans</title><link>https://secret.example/zanzibar-post</link>
<pubDate>Tue, 04 Feb 2025 10:00:00 +0000</pubDate><category>zanzibartag</category>
<dc:creator>zuser</dc:creator><description>zcomment about it</description>
<hatena:bookmarkcount>987654</hatena:bookmarkcount></item>
<item><title>Quokka retitled</title><link>{SHARED_LINK}</link>
<pubDate>Wed, 05 Feb 2025 10:00:00 +0000</pubDate><category>quokkatag</category>
<dc:creator>quser</dc:creator><description>qcomment on the shared one</description>
<hatena:bookmarkcount>123457</hatena:bookmarkcount></item>
</channel></rss>
""".encode()

# What only the private source said: none of it may reach a public answer.
MARKERS = (
    "Zanzibar",
    "zanzibartag",
    "zuser",
    "zcomment",
    "987654",
    "secret-path-zq9",
    "Quokka",
    "quokkatag",
    "quser",
    "qcomment",
    "123457",
)


@dataclass
class Polled:
    engine: Engine
    config: Config
    token: str
    token_id: int


def private_config(
    base_url: str, *, public: bool = True, private_output: dict[str, Any] | None = None
) -> Config:
    """The private bookmark feed (and the public feed, unless ``public`` is false) and three outputs."""
    sources: list[dict[str, Any]] = [{"url": base_url + SECRET_PATH, "kind": "user", "private": True}]
    if public:
        sources.append({"url": base_url + "/public.rss", "kind": "feed"})
    outputs = [
        {"slug": PUBLIC_OUTPUT, "title": "Go picks", "tag": ["golang"]},
        {"slug": PRIVATE_OUTPUT, "title": "My reading list", "private": True, **(private_output or {})},
        {"slug": "quokka-list", "title": "Quokka list", "private": True, "tag": ["quokkatag"]},
    ]
    return parse_config({"poller": {"allow_private_networks": True}, "sources": sources, "outputs": outputs})


def poll(engine: Engine, config: Config) -> None:
    report = asyncio.run(Poller(engine, config, clock=lambda: NOW).run_once(force=True))
    assert not report.failed, report.summary()


@contextmanager
def polled_private(engine: Engine) -> Iterator[Polled]:
    """The private feed polled alone, then with the public one (which takes the shared item over),
    then changed and read again (now speaking of an item the public feed has); a token of the
    private output."""
    with FeedServer() as srv:
        srv.reply("/public.rss", Response(body=PUBLIC_RSS, headers={"Content-Type": RSS}))
        srv.reply(SECRET_PATH, Response(body=PRIVATE_RSS, headers={"Content-Type": RSS}))
        poll(engine, private_config(srv.base_url, public=False))
        config = private_config(srv.base_url)
        poll(engine, config)
        changed = PRIVATE_RSS.replace(b"private bookmarks", b"private bookmarks, again")
        srv.reply(SECRET_PATH, Response(body=changed, headers={"Content-Type": RSS}))
        poll(engine, config)
    with transaction(engine) as conn:
        token_id, token = create_token(conn, PRIVATE_OUTPUT, NOW)
    yield Polled(engine, config, token, token_id)
