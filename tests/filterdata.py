"""Posts written into a real database through the store's normal writes, for the filter tests: each
post says what a reader knows of it (title, host, tags, who carried it), so a test can work out by
hand, or in plain Python, which posts a query matches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Engine
from test_store import entry, setup_sources, write

from aggregator.config import SourceConfig
from aggregator.ingest import SourceInfo

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
SOURCES = {
    "blog": SourceConfig("https://deeeet.com/feed.xml", "feed", "Blog"),
    "site": SourceConfig("https://b.hatena.ne.jp/entrylist?url=deeeet.com&mode=rss", "site", "deeeet.com"),
    "tag": SourceConfig("https://b.hatena.ne.jp/q/k8s?mode=rss", "tag", "k8s"),
    "umiyosh": SourceConfig("https://b.hatena.ne.jp/umiyosh/bookmark.rss", "user", "umiyosh"),
    "tanaka": SourceConfig("https://b.hatena.ne.jp/tanaka/bookmark.rss", "user", "tanaka"),
}
USERS = ("umiyosh", "tanaka")
TABLES = ("item_tag", "sighting", "bookmark_point", "item", "tag")


@dataclass(frozen=True)
class Post:
    """One article: ``seen`` lists (source name, the tags that source gave it)."""

    slug: str
    host: str
    title: str
    published: datetime
    seen: tuple[tuple[str, tuple[str, ...]], ...]
    summary: str | None = None
    author: str | None = None
    count: int | None = None

    @property
    def link(self) -> str:
        return f"https://{self.host}/{self.slug}"

    @property
    def tags(self) -> set[str]:
        return {tag for _, tags in self.seen for tag in tags}

    @property
    def by_feed(self) -> bool:
        """Seen by a source that is not a user's bookmarks (those give no summary and no author)."""
        return any(name not in USERS for name, _ in self.seen)


def make_sources(engine: Engine) -> dict[str, SourceInfo]:
    """The five sources, by name."""
    infos = setup_sources(engine, *SOURCES.values())
    return {name: infos[config.url] for name, config in SOURCES.items()}


def write_posts(engine: Engine, sources: dict[str, SourceInfo], posts: Sequence[Post]) -> None:
    """Each source's entries as one poll of it; a user's entry names the user as its author."""
    for name, info in sources.items():
        entries = [
            entry(
                p.link,
                p.title,
                p.published,
                tags=tags,
                count=p.count,
                summary=p.summary,
                author=name if name in USERS else p.author,
            )
            for p in posts
            for source, tags in p.seen
            if source == name
        ]
        if entries:
            write(engine, info, entries, NOW - timedelta(hours=1))


def clear_posts(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
