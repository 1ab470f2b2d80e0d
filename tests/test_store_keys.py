"""Identity rules through the real write path, on SQLite and PostgreSQL.

Each case polls one or more feeds (in order) and states, from the feeds alone, which
entries are one item: the same article seen through several feeds merges; distinct
entries of one feed never do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from aggregator.identity import hash_text
from aggregator.ingest import SourceInfo, prepare_entries
from aggregator.models import Item, Sighting, Source, table_of
from aggregator.parse import ParsedEnclosure, ParsedEntry, ParsedFeed
from aggregator.store.items import write_items

ITEM = table_of(Item)
SIGHTING = table_of(Sighting)
SOURCE = table_of(Source)
NOW = datetime(2024, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class E:
    """One entry: ``name`` labels it in the expected groups and is its guid unless ``guid=False``."""

    name: str
    link: str | None
    guid: bool = True
    enclosure: str | None = None


@dataclass(frozen=True)
class Feed:
    name: str
    kind: str
    home: str | None
    entries: tuple[E, ...]


def parsed(entry: E) -> ParsedEntry:
    enclosures = (ParsedEnclosure(entry.enclosure, "audio/mpeg", 1),) if entry.enclosure else ()
    return ParsedEntry(
        link=entry.link,
        guid=entry.name if entry.guid else None,
        title=entry.name,
        summary=f"<p>{entry.name}</p>",
        content=None,
        author=None,
        published=NOW,
        updated=None,
        tags=(),
        bookmark_count=None,
        image=None,
        enclosures=enclosures,
        raw_hash=hash_text(entry.name),
    )


def poll(engine: Engine, feed: Feed, ids: dict[str, int]) -> None:
    if feed.name not in ids:
        with engine.begin() as conn:
            ids[feed.name] = int(
                conn.execute(
                    SOURCE.insert().values(url=f"https://feeds.example/{feed.name}", kind=feed.kind, tags=[])
                ).inserted_primary_key[0]
            )
    source = SourceInfo(id=ids[feed.name], kind=feed.kind)
    document = ParsedFeed(
        format="rss20",
        title=feed.name,
        link=feed.home,
        ttl_minutes=None,
        is_hatena=False,
        entries=tuple(parsed(e) for e in feed.entries),
        total_entries=len(feed.entries),
        warnings=(),
        encoding="utf-8",
    )
    with engine.begin() as conn:
        write_items(conn, source, prepare_entries(document, source), NOW)


def groups(engine: Engine, ids: dict[str, int]) -> set[frozenset[str]]:
    """Each stored item as the set of ``feed/entry`` labels that sighted it."""
    names = {v: k for k, v in ids.items()}
    by_item: dict[int, set[str]] = {}
    with engine.connect() as conn:
        for item_id, source_id, guid in conn.execute(
            select(SIGHTING.c.item_id, SIGHTING.c.source_id, SIGHTING.c.guid)
        ):
            by_item.setdefault(item_id, set()).add(f"{names[source_id]}/{guid}")
        assert sorted(conn.execute(select(ITEM.c.id)).scalars()) == sorted(by_item)
    return {frozenset(v) for v in by_item.values()}


DIARY = "http://d.hatena.ne.jp/sample/20040820"
POD = "https://pod.example/"
ARTICLE = "https://deeeet.com/writing/2018/kubernetes-grpc/"
GPU = "https://deeeet.com/writing/2018/01/15/kubernetes-gpu/"

CASES: dict[str, tuple[list[Feed], list[set[str]]]] = {
    "diary anchors stay apart; a bookmark of #p2 joins #p2 only": (
        [
            Feed(
                "diary",
                "feed",
                "http://d.hatena.ne.jp/sample/",
                (E("day", DIARY), E("p1", DIARY + "#p1"), E("p2", DIARY + "#p2")),
            ),
            Feed("hatena", "site", "https://b.hatena.ne.jp/", (E("b2", DIARY + "#p2"),)),
        ],
        [{"diary/day"}, {"diary/p1"}, {"diary/p2", "hatena/b2"}],
    ),
    "a bookmark of #p2 first, the diary after": (
        [
            Feed("hatena", "site", "https://b.hatena.ne.jp/", (E("b2", DIARY + "#p2"),)),
            Feed(
                "diary",
                "feed",
                "http://d.hatena.ne.jp/sample/",
                (E("day", DIARY), E("p1", DIARY + "#p1"), E("p2", DIARY + "#p2")),
            ),
        ],
        [{"diary/day"}, {"diary/p1"}, {"diary/p2", "hatena/b2"}],
    ),
    "podcast episodes linking to the show are separate; a bookmark of the show is another item": (
        [
            Feed("pod", "feed", POD, tuple(E(f"ep{n}", POD, enclosure=f"{POD}ep{n}.mp3") for n in (1, 2, 3))),
            Feed("hatena", "site", "https://b.hatena.ne.jp/", (E("show", POD),)),
        ],
        [{"pod/ep1"}, {"pod/ep2"}, {"pod/ep3"}, {"hatena/show"}],
    ),
    "a link blog's two posts about one page stay two; the page's own feed joins one": (
        [
            Feed("links", "feed", "https://links.example/", (E("l1", ARTICLE), E("l2", ARTICLE))),
            Feed("blog", "feed", "https://deeeet.com/", (E("own", ARTICLE),)),
        ],
        [{"links/l1", "blog/own"}, {"links/l2"}],
    ),
    "a tag feed's tracked, anchored link merges with the blog's plain link (tag feed first)": (
        [
            Feed("tag", "tag", "https://b.hatena.ne.jp/", (E("t", ARTICLE + "?utm_source=feed#top"),)),
            Feed("blog", "feed", "https://deeeet.com/", (E("own", ARTICLE.replace("https", "http")),)),
            Feed("user", "user", "https://b.hatena.ne.jp/u/", (E("u", ARTICLE + "#comments"),)),
        ],
        [{"tag/t", "blog/own", "user/u"}],
    ),
    "the same, blog first; host case, port and trailing dot": (
        [
            Feed("blog", "feed", "https://deeeet.com/", (E("own", ARTICLE),)),
            Feed("tag", "tag", None, (E("t", "HTTPS://Deeeet.COM.:443/writing/2018/kubernetes-grpc/#top"),)),
        ],
        [{"blog/own", "tag/t"}],
    ),
    "a bookmark of a section (#gpu) and the blog's plain link are one item (bookmark first)": (
        [
            Feed("tag", "tag", None, (E("t", GPU + "#gpu"), E("other", ARTICLE))),
            Feed("blog", "feed", "https://deeeet.com/", (E("own", GPU),)),
        ],
        [{"tag/t", "blog/own"}, {"tag/other"}],
    ),
    "the same, blog first": (
        [
            Feed("blog", "feed", "https://deeeet.com/", (E("own", GPU),)),
            Feed("tag", "tag", None, (E("t", GPU + "#gpu"),)),
        ],
        [{"tag/t", "blog/own"}],
    ),
    "a bookmark of a diary anchor the diary no longer carries stays apart from the day's entries": (
        [
            Feed(
                "diary",
                "feed",
                "http://d.hatena.ne.jp/sample/",
                (E("p1", DIARY + "#p1"), E("p2", DIARY + "#p2")),
            ),
            Feed("hatena", "site", None, (E("b5", DIARY + "#p5"), E("b1", DIARY + "#p1"))),
        ],
        [{"diary/p1", "hatena/b1"}, {"diary/p2"}, {"hatena/b5"}],
    ),
    "one feed's two section links of one page stay two entries": (
        [
            Feed("tag", "tag", None, (E("s1", GPU + "#gpu"), E("s2", GPU + "#setup"))),
            Feed("blog", "feed", "https://deeeet.com/", (E("own", GPU),)),
        ],
        [{"tag/s1"}, {"tag/s2"}, {"blog/own"}],
    ),
    "Unicode and punycode spellings of a host are one item": (
        [
            Feed("a", "feed", None, (E("a", "https://例え.jp/post"),)),
            Feed("b", "tag", None, (E("b", "https://xn--r8jz45g.jp/post"),)),
        ],
        [{"a/a", "b/b"}],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_identity_rules(engine: Engine, case: str) -> None:
    feeds, expected = CASES[case]
    ids: dict[str, int] = {}
    for feed in feeds:
        poll(engine, feed, ids)
    assert groups(engine, ids) == {frozenset(g) for g in expected}
    for feed in feeds:  # polling everything again changes nothing
        poll(engine, feed, ids)
    assert groups(engine, ids) == {frozenset(g) for g in expected}


def item_ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {guid: item for item, guid in conn.execute(select(SIGHTING.c.item_id, SIGHTING.c.guid))}


@pytest.mark.parametrize(
    "later",
    [
        ("l3", "l2", "l1"),  # reordered
        ("l2",),  # l1 left the feed: l2 now alone does not move to the page's key
        ("l2", "l1", "l4"),  # a new post about the same page
    ],
)
def test_reordering_and_disappearing_entries_never_move_an_item(engine: Engine, later: Sequence[str]) -> None:
    ids: dict[str, int] = {}
    first = Feed("links", "feed", "https://links.example/", tuple(E(n, ARTICLE) for n in ("l1", "l2", "l3")))
    poll(engine, first, ids)
    before = item_ids(engine)
    assert len(set(before.values())) == 3
    poll(engine, Feed("links", "feed", "https://links.example/", tuple(E(n, ARTICLE) for n in later)), ids)
    after = item_ids(engine)
    assert {k: after[k] for k in before} == before
    assert len(set(after.values())) == len(after)
