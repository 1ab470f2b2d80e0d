"""Storage on both backends: idempotent writes, the data version, slice filters, pagination, clean text."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from feedserver import FeedServer
from oldschema import drop_later_schema
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection, Engine

from aggregator.config import SourceConfig, parse_config
from aggregator.db import make_engine
from aggregator.errors import SchemaVersionError
from aggregator.filters import parse_filter
from aggregator.identity import hash_text
from aggregator.ingest import SourceInfo, prepare_entries
from aggregator.migrations.run import upgrade
from aggregator.models import Item, Sighting, Source, Tag, table_of
from aggregator.parse import ParsedEntry, ParsedFeed
from aggregator.poller import Poller
from aggregator.store.common import read_data_version
from aggregator.store.items import WriteCounts, write_items
from aggregator.store.slices import Cursor, select_slice, source_rows, tag_counts
from aggregator.store.sources import sync_sources
from aggregator.views import ItemView

SOURCE = table_of(Source)
ITEM = table_of(Item)
TAG = table_of(Tag)
SIGHTING = table_of(Sighting)
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
FEED_URL = "https://example.org/feed.xml"
TAG_URL = "https://b.hatena.ne.jp/q/go?mode=rss"
USER_URL = "https://b.hatena.ne.jp/someone/bookmark.rss"


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, minute, tzinfo=UTC)


def entry(
    link: str | None,
    title: str,
    published: datetime | None,
    *,
    tags: Iterable[str] = (),
    count: int | None = None,
    summary: str | None = None,
    author: str | None = None,
    guid: str | None = None,
) -> ParsedEntry:
    return ParsedEntry(
        link=link,
        guid=guid,
        title=title,
        summary=summary,
        content=None,
        author=author,
        published=published,
        updated=published,
        tags=tuple(tags),
        bookmark_count=count,
        image=None,
        enclosures=(),
        raw_hash=hash_text(f"{link}|{guid}|{title}"),
    )


def feed_of(entries: Sequence[ParsedEntry]) -> ParsedFeed:
    return ParsedFeed(
        format="rss20",
        title="t",
        link=None,
        ttl_minutes=None,
        is_hatena=False,
        entries=tuple(entries),
        total_entries=len(entries),
        warnings=(),
        encoding="utf-8",
    )


def setup_sources(engine: Engine, *configs: SourceConfig) -> dict[str, SourceInfo]:
    with engine.begin() as conn:
        sync_sources(conn, configs, NOW)
        rows = conn.execute(select(SOURCE.c.id, SOURCE.c.url, SOURCE.c.kind, SOURCE.c.tags)).all()
    return {url: SourceInfo(int(sid), kind, tuple(tags)) for sid, url, kind, tags in rows}


def write(
    engine: Engine, source: SourceInfo, entries: Sequence[ParsedEntry], now: datetime = NOW
) -> WriteCounts:
    with engine.begin() as conn:
        return write_items(conn, source, prepare_entries(feed_of(entries), source), now)


def version(engine: Engine) -> int:
    with engine.connect() as conn:
        return read_data_version(conn)


def query(engine: Engine, after: Cursor | None = None, **params: Any) -> list[ItemView]:
    flt = parse_filter({"limit": "500", **params}, now=NOW)
    with engine.connect() as conn:
        return select_slice(conn, flt, after=after)


def titles(views: Iterable[ItemView]) -> set[str]:
    return {v.title for v in views}


@pytest.fixture
def sources(engine: Engine) -> dict[str, SourceInfo]:
    return setup_sources(
        engine,
        SourceConfig(FEED_URL, "feed", "Example blog"),
        SourceConfig(TAG_URL, "tag", "go tag", ("Go",)),
        SourceConfig(USER_URL, "user", "someone"),
    )


# --------------------------------------------------------------------------- writes


def test_write_items_is_idempotent(engine: Engine, sources: dict[str, SourceInfo]) -> None:
    src = sources[FEED_URL]
    batch = [
        entry("https://example.org/1", "one", at(1), tags=["a", "b"], count=3, summary="<p>s</p>"),
        entry("https://example.org/2", "two", at(2), tags=["b"]),
        entry(None, "no link", at(3), guid="urn:x:3"),
        entry(None, "nothing", None),
    ]
    first = write(engine, src, batch)
    assert (first.new, first.updated, first.unchanged) == (4, 0, 0)
    after_first = version(engine)
    assert after_first >= 1
    snapshot = [(v.id, v.version, v.tag_names, v.bookmark_count) for v in query(engine)]

    for _ in range(2):
        again = write(engine, src, batch, NOW + timedelta(hours=1))
        assert (again.new, again.updated, again.unchanged) == (0, 0, 4)
        assert not again.changed
    assert version(engine) == after_first
    assert [(v.id, v.version, v.tag_names, v.bookmark_count) for v in query(engine)] == snapshot
    with engine.connect() as conn:
        assert conn.execute(select(ITEM.c.id)).all().__len__() == 4
        assert len(conn.execute(select(SIGHTING.c.item_id)).all()) == 4


def test_repeats_of_one_entry_inside_one_feed_are_one_item(
    engine: Engine, sources: dict[str, SourceInfo]
) -> None:
    src = sources[FEED_URL]
    counts = write(
        engine,
        src,
        [
            entry("https://example.org/dup", "dup", at(1), tags=["x"], count=1, guid="g1"),
            entry("https://example.org/dup-moved", "dup", at(1), tags=["y"], count=9, guid="g1"),
            entry("https://example.org/nog", "no guid", at(1), tags=["x"]),
            entry("https://example.org/nog", "no guid, again", at(1), tags=["z"]),
        ],
    )
    assert counts.new == 2
    by_title = {item.title: item for item in query(engine)}
    assert set(by_title) == {"dup", "no guid"}
    assert set(by_title["dup"].tag_names) == {"x", "y"} and by_title["dup"].bookmark_count == 9
    assert set(by_title["no guid"].tag_names) == {"x", "z"}


def test_data_version_bumps_on_every_visible_change(engine: Engine, sources: dict[str, SourceInfo]) -> None:
    feed, tag, user = sources[FEED_URL], sources[TAG_URL], sources[USER_URL]
    link = "https://example.org/post"
    base = entry(link, "title", at(1), tags=["a"], count=1)
    steps: list[tuple[str, SourceInfo, ParsedEntry, bool]] = [
        ("new item", feed, base, True),
        ("same again", feed, base, False),
        ("new title", feed, entry(link, "title 2", at(1), tags=["a"], count=1), True),
        ("higher count", feed, entry(link, "title 2", at(1), tags=["a"], count=5), True),
        ("new tag", feed, entry(link, "title 2", at(1), tags=["a", "b"], count=5), True),
        ("tag removed", feed, entry(link, "title 2", at(1), tags=["a"], count=5), True),
        ("another source", tag, entry(link, "other title", at(1), tags=["c"], count=2), True),
        ("that source again", tag, entry(link, "other title", at(1), tags=["c"], count=2), False),
        ("a comment", user, entry(link, "t", at(1), summary="なるほど", author="someone"), True),
        ("the same comment", user, entry(link, "t", at(1), summary="なるほど", author="someone"), False),
        ("comment edited", user, entry(link, "t", at(1), summary="なるほど!", author="someone"), True),
    ]
    previous = version(engine)
    item_version = 0
    for name, src, parsed, changes in steps:
        counts = write(engine, src, [parsed])
        current = version(engine)
        [view] = query(engine)
        if changes:
            assert current == previous + 1, name
            assert counts.changed, name
            assert view.version > item_version, name
        else:
            assert current == previous, name
            assert not counts.changed, name
            assert view.version == item_version, name
        previous, item_version = current, view.version

    [view] = query(engine)
    assert view.title == "title 2"  # the publisher's feed owns the text
    assert view.bookmark_count == 5
    assert set(view.tag_names) == {"a", "c", "go"}  # "go": the tag source's configured tag
    comments = {s.kind: s.comment for s in view.sources}
    assert comments == {"feed": None, "tag": None, "user": "なるほど!"}


def test_bookmark_count_keeps_the_highest_and_lower_rank_never_overwrites_text(
    engine: Engine, sources: dict[str, SourceInfo]
) -> None:
    feed, user = sources[FEED_URL], sources[USER_URL]
    link = "https://example.org/x"
    write(engine, user, [entry(link, "user's title", at(1), count=40, summary="c", author="someone")])
    [first] = query(engine)
    assert first.title == "user's title" and first.bookmark_count == 40
    write(engine, feed, [entry(link, "publisher title", at(2), count=10, summary="<p>body</p>")])
    [second] = query(engine)
    assert second.id == first.id
    assert (second.title, second.bookmark_count, second.summary) == ("publisher title", 40, "<p>body</p>")
    assert second.published == at(2)
    write(engine, user, [entry(link, "user's new title", at(3), count=41, summary="c", author="someone")])
    [third] = query(engine)
    assert (third.title, third.bookmark_count, third.published) == ("publisher title", 41, at(2))
    assert third.first_seen == first.first_seen


def test_a_lower_bookmark_count_changes_nothing_a_reader_sees(
    engine: Engine, sources: dict[str, SourceInfo]
) -> None:
    tag, user = sources[TAG_URL], sources[USER_URL]
    link = "https://example.org/counted"
    write(engine, tag, [entry(link, "counted", at(1), count=300)])
    write(engine, user, [entry(link, "counted", at(1), count=290)])
    [before] = query(engine)
    data_before = version(engine)
    counts = write(engine, user, [entry(link, "counted", at(1), count=280)])
    [after] = query(engine)
    assert counts == WriteCounts(unchanged=1)
    assert (after.version, after.bookmark_count) == (before.version, 300)
    assert version(engine) == data_before


def test_a_user_feed_shows_when_the_user_bookmarked(engine: Engine, sources: dict[str, SourceInfo]) -> None:
    user = sources[USER_URL]
    write(engine, user, [entry("https://example.org/b", "b", at(5), summary="よい", author="umiyosh")])
    [view] = query(engine)
    [ref] = view.sources
    assert (ref.user, ref.comment, ref.seen) == ("umiyosh", "よい", at(5))


# --------------------------------------------------------------------------- slices


@pytest.fixture
def sliced(engine: Engine, sources: dict[str, SourceInfo]) -> dict[str, Any]:
    feed, tag = sources[FEED_URL], sources[TAG_URL]
    write(
        engine,
        feed,
        [
            entry("https://example.com/a", "100% pure Go", at(1), tags=["go"], count=50),
            entry("https://blog.example.com/b", "snake_case naming", at(2), tags=["python"], count=5),
            entry("https://notexample.com/c", "100 percent rust", at(3), tags=["rust", "go"], count=500),
        ],
    )
    write(
        engine,
        tag,
        [
            entry("https://notexample.com/c", "100 percent rust", at(3), tags=["rust"], count=100),
            entry("https://www.example.com/d", "snakeXcase", at(4), tags=["rust"]),
            entry("https://other.org/e", "Kubernetes入門 back\\slash", at(5), tags=["Kubernetes"], count=120),
        ],
    )
    bulk = [
        entry(f"https://bulk.example.net/{n}", f"bulk {n}", at(10), tags=["bulk"] if n % 2 else [])
        for n in range(23)
    ]
    write(engine, feed, bulk)
    return {"feed": feed, "tag": tag}


def test_tag_filters(engine: Engine, sliced: dict[str, Any]) -> None:
    # every item of the tag source carries its configured tag "go"
    assert titles(query(engine, tag="go")) == {
        "100% pure Go",
        "100 percent rust",
        "snakeXcase",
        "Kubernetes入門 back\\slash",
    }
    assert titles(query(engine, tag=["go", "rust"])) == {"100 percent rust", "snakeXcase"}
    assert titles(query(engine, tag="GO", not_tag="rust")) == {"100% pure Go", "Kubernetes入門 back\\slash"}
    assert titles(query(engine, any_tag=["python", "kubernetes"])) == {
        "snake_case naming",
        "Kubernetes入門 back\\slash",
    }
    assert titles(query(engine, any_tag=["python", "unknown-tag"])) == {"snake_case naming"}
    assert query(engine, tag="unknown-tag") == []
    assert query(engine, any_tag=["unknown", "other"]) == []
    assert query(engine, tag="go", not_tag="go") == []
    assert len(query(engine, not_tag="unknown-tag")) == 28
    assert len(query(engine, not_tag="bulk")) == 5 + 12
    assert len(query(engine, tag="bulk")) == 11


def test_site_filter_includes_subdomains_only(engine: Engine, sliced: dict[str, Any]) -> None:
    assert titles(query(engine, site="example.com")) == {"100% pure Go", "snake_case naming", "snakeXcase"}
    assert titles(query(engine, site="www.Example.COM")) == titles(query(engine, site="example.com"))
    assert titles(query(engine, site="blog.example.com")) == {"snake_case naming"}
    assert titles(query(engine, site="notexample.com")) == {"100 percent rust"}
    assert query(engine, site="ample.com") == []
    assert len(query(engine, site="example.net")) == 23


def test_source_filter_by_id_and_by_url(engine: Engine, sliced: dict[str, Any]) -> None:
    feed, tag = sliced["feed"], sliced["tag"]
    from_tag = {"100 percent rust", "snakeXcase", "Kubernetes入門 back\\slash"}
    assert titles(query(engine, source=str(tag.id))) == from_tag
    assert titles(query(engine, source=TAG_URL)) == from_tag
    assert len(query(engine, source=FEED_URL)) == 3 + 23
    assert len(query(engine, source=[str(feed.id), TAG_URL])) == 28
    assert query(engine, source="https://nowhere.example/feed") == []
    assert query(engine, source="999999") == []
    assert titles(query(engine, source=str(feed.id), tag="rust")) == {"100 percent rust"}


def test_text_search_treats_like_wildcards_literally(engine: Engine, sliced: dict[str, Any]) -> None:
    assert titles(query(engine, q="100%")) == {"100% pure Go"}
    assert titles(query(engine, q="100")) == {"100% pure Go", "100 percent rust"}
    assert titles(query(engine, q="snake_case")) == {"snake_case naming"}
    assert titles(query(engine, q="SNAKE")) == {"snake_case naming", "snakeXcase"}
    assert titles(query(engine, q="%")) == {"100% pure Go"}
    assert titles(query(engine, q="_")) == {"snake_case naming"}
    assert titles(query(engine, q="\\")) == {"Kubernetes入門 back\\slash"}
    assert titles(query(engine, q="入門")) == {"Kubernetes入門 back\\slash"}
    assert query(engine, q="pure%go") == []


def test_text_search_is_case_insensitive_beyond_ascii(engine: Engine, sources: dict[str, SourceInfo]) -> None:
    write(
        engine,
        sources[FEED_URL],
        [
            entry(
                "https://example.jp/1", "ＡＷＳ入門：ÉCOLE と Straße", at(1), summary="<p>ＳＱＬite メモ</p>"
            ),
            entry("https://example.jp/2", "aws と école", at(2)),
        ],
    )
    both = {"ＡＷＳ入門：ÉCOLE と Straße", "aws と école"}
    assert titles(query(engine, q="ＡＷＳ入門")) == {"ＡＷＳ入門：ÉCOLE と Straße"}
    assert titles(query(engine, q="ａｗｓ")) == {"ＡＷＳ入門：ÉCOLE と Straße"}
    assert titles(query(engine, q="ÉCOLE")) == both
    assert titles(query(engine, q="école")) == both
    assert titles(query(engine, q="STRASSE")) == set()
    assert titles(query(engine, q="straße")) == {"ＡＷＳ入門：ÉCOLE と Straße"}
    assert titles(query(engine, q="ｓｑｌite")) == {"ＡＷＳ入門：ÉCOLE と Straße"}


def test_time_bookmark_and_limit_filters(engine: Engine, sliced: dict[str, Any]) -> None:
    assert titles(query(engine, since="2024-01-02", until="2024-01-04")) == {
        "snake_case naming",
        "100 percent rust",
    }
    assert titles(query(engine, tag="rust", since="2024-01-03T00:00:00Z", until="2024-01-05")) == {
        "100 percent rust",
        "snakeXcase",
    }
    assert (
        titles(query(engine, since="2024-01-09T23:59:59+09:00", until="2024-01-05T09:00:00+09:00")) == set()
    )
    assert len(query(engine, since="2024-01-10")) == 23
    assert titles(query(engine, min_bookmarks="100")) == {"100 percent rust", "Kubernetes入門 back\\slash"}
    assert titles(query(engine, min_bookmarks="501")) == set()
    newest = query(engine, limit="3")
    assert len(newest) == 3 and all(v.published == at(10) for v in newest)
    ordered = query(engine)
    assert [v.published for v in ordered] == sorted((v.published for v in ordered), reverse=True)
    assert [v.title for v in ordered[-5:]] == [
        "Kubernetes入門 back\\slash",
        "snakeXcase",
        "100 percent rust",
        "snake_case naming",
        "100% pure Go",
    ]


@pytest.mark.parametrize("params", [{}, {"tag": "bulk"}, {"not_tag": "python"}, {"site": "example.net"}])
@pytest.mark.parametrize("page", [1, 4, 7])
def test_cursor_pagination_has_no_duplicates_or_gaps(
    engine: Engine, sliced: dict[str, Any], params: dict[str, str], page: int
) -> None:
    everything = query(engine, **params)
    assert everything
    seen: list[int] = []
    after: Cursor | None = None
    for _ in range(100):
        batch = query(engine, after=after, limit=str(page), **params)
        seen.extend(v.id for v in batch)
        if len(batch) < page:
            break
        last = batch[-1]
        after = Cursor.decode(Cursor(last.published, last.id).encode())
    assert seen == [v.id for v in everything]
    assert len(seen) == len(set(seen))


def test_tag_counts_and_source_rows(engine: Engine, sliced: dict[str, Any]) -> None:
    with engine.connect() as conn:
        counts = {t.name: t.count for t in tag_counts(conn)}
        rows = {r.url: r for r in source_rows(conn)}
    assert counts["bulk"] == 11 and counts["rust"] == 2 and counts["go"] == 4
    assert rows[FEED_URL].items == 26 and rows[TAG_URL].items == 3 and rows[USER_URL].items == 0


# --------------------------------------------------------------------------- clean text


NUL_RSS = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"'
    b' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:hatena="http://www.hatena.ne.jp/info/xmlns#">\n'
    b'<channel rdf:about="https://example.jp/"><title>NUL&#0;feed&#x1;</title>'
    b"<link>https://example.jp/</link><description>d</description></channel>\n"
    b'<item rdf:about="https://example.jp/nul"><title>ti&#0;tle&#x0B;\xe6\x97\xa5&#x7f;</title>'
    b"<link>https://example.jp/nul</link>"
    b"<description>de&#0;sc&#x1f;ription\x01 &lt;b&gt;bold&#0;&lt;/b&gt;</description>"
    b"<dc:creator>cre&#0;ator</dc:creator><dc:subject>ta&#0;g</dc:subject>"
    b"<dc:subject>&#0;</dc:subject><hatena:bookmarkcount>3</hatena:bookmarkcount></item>\n"
    b'<item rdf:about="https://example.jp/raw"><title>raw\x00nul\x08</title>'
    b"<link>https://example.jp/raw</link><description>x\x00y</description></item>\n"
    b"</rdf:RDF>\n"
)

NUL_ATOM = (
    b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
    b"<title>atom&#0;</title><id>urn:feed&#0;</id>"
    b'<entry><id>urn:entry&#0;1</id><title type="html">a&amp;#0;b &lt;i&gt;c&#0;&lt;/i&gt;</title>'
    b"<author><name>au&#0;thor</name></author>"
    b'<category term="c&#0;at" label="L&#0;"/>'
    b'<link rel="enclosure" href="https://example.jp/a.mp3" type="audio/mp&#0;eg" length="1"/>'
    b'<content type="html">&lt;p&gt;con&#0;tent&lt;/p&gt;</content>'
    b"<updated>2024-01-01T00:00:00Z</updated></entry></feed>"
)

NUL_JSON = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "json\u0000feed",
        "home_page_url": "https://example.jp/\u0000",
        "items": [
            {
                "id": "id\u00001",
                "url": "https://example.jp/j\u0000son",
                "title": "ti\u0000tle\u0001",
                "content_text": "te\u0000xt",
                "summary": "su\u0000m",
                "authors": [{"name": "na\u0000me"}],
                "tags": ["t\u0000ag", "\u0000"],
                "attachments": [{"url": "https://example.jp/f.mp3", "mime_type": "audio/\u0000mpeg"}],
                "date_published": "2024-01-02T00:00:00Z",
            },
            {"id": "\u0000", "content_html": "<p>only\u0000html</p>"},
        ],
    }
).encode()

_CONTROL = {chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)}


def _all_text(conn: Connection) -> list[str]:
    values: list[str] = []
    for table in (ITEM, TAG, SIGHTING, SOURCE):
        for row in conn.execute(select(table)).mappings():
            for value in row.values():
                if isinstance(value, str):
                    values.append(value)
                elif isinstance(value, list | dict):
                    values.append(json.dumps(value, ensure_ascii=False))
    return values


def test_nul_and_control_characters_never_reach_the_database(engine: Engine) -> None:
    with FeedServer() as srv:
        srv.route("/nul.rdf", NUL_RSS, content_type="application/rss+xml")
        srv.route("/nul.atom", NUL_ATOM, content_type="application/atom+xml")
        srv.route("/nul.json", NUL_JSON, content_type="application/feed+json")
        config = parse_config(
            {
                "sources": [
                    {"url": srv.url("/nul.rdf"), "kind": "site"},
                    {"url": srv.url("/nul.atom"), "kind": "feed"},
                    {"url": srv.url("/nul.json"), "kind": "user"},
                ],
                "poller": {"allow_private_networks": True, "total_timeout": 5},
            }
        )
        report = asyncio.run(Poller(engine, config).run_once(force=True))
    outcomes = {o.url.rsplit("/", 1)[-1]: o for o in report.outcomes}
    assert {k: o.status for k, o in outcomes.items()} == {
        "nul.rdf": "new",
        "nul.atom": "new",
        "nul.json": "new",
    }
    with engine.connect() as conn:
        values = _all_text(conn)
        feed_titles = {r.url.rsplit("/", 1)[-1]: r.feed_title for r in source_rows(conn)}
    assert values
    for value in values:
        assert not (set(value) & _CONTROL) and "\\u0000" not in value, repr(value)
    assert feed_titles == {"nul.rdf": "NULfeed", "nul.atom": "atom", "nul.json": "jsonfeed"}

    stored = query(engine)
    assert len(stored) == 5
    by_link = {v.link: v for v in stored}
    rdf = by_link["https://example.jp/nul"]
    assert (rdf.title, rdf.author, rdf.tag_names, rdf.bookmark_count) == ("title日", "creator", ("tag",), 3)
    assert rdf.summary == "description <b>bold</b>"
    raw = by_link["https://example.jp/raw"]
    assert (raw.title, raw.summary) == ("rawnul", "xy")
    js = by_link["https://example.jp/json"]
    assert (js.title, js.tag_names, js.enclosures[0].type) == ("title", ("tag",), "audio/mpeg")
    assert [(s.user, s.comment) for s in js.sources] == [("name", "sum")]
    atom = next(v for v in stored if v.key.startswith("guid:"))
    assert atom.key.endswith(":urn:entry1") and atom.author == "author" and atom.content == "<p>content</p>"


@pytest.mark.postgres
def test_cursor_pagination_does_not_depend_on_the_server_time_zone(pg_url: str) -> None:
    assert "options=" in pg_url
    tokyo = make_engine(pg_url.replace("options=", "options=-ctimezone%3DAsia/Tokyo%20", 1))
    try:
        with tokyo.connect() as conn:
            assert conn.execute(text("show timezone")).scalar() == "Asia/Tokyo"
        src = setup_sources(tokyo, SourceConfig(FEED_URL, "feed"))[FEED_URL]
        write(
            tokyo,
            src,
            [entry(f"https://example.org/{n}", f"n{n}", at(1 + n // 3), tags=["x"]) for n in range(12)],
        )
        for params in ({}, {"tag": "x"}):
            everything = query(tokyo, **params)
            assert len(everything) == 12 and everything[0].published == at(4)
            seen: list[int] = []
            after: Cursor | None = None
            while True:
                batch = query(tokyo, after=after, limit="5", **params)
                seen.extend(v.id for v in batch)
                if len(batch) < 5:
                    break
                after = Cursor(batch[-1].published, batch[-1].id)
            assert seen == [v.id for v in everything], params
            assert [v.published for v in query(tokyo, since="2024-01-02", until="2024-01-03", **params)] == [
                at(2)
            ] * 3
    finally:
        tokyo.dispose()


def test_a_database_from_an_older_version_gains_new_nullable_columns(db_url: str) -> None:
    # Was: only "SELECT said_at does not raise". What a user upgrading notices: the items an
    # older version (before migrations) stored are still listed after `aggregator db upgrade`,
    # and new polls record the column again.
    eng = make_engine(db_url)
    src = setup_sources(eng, SourceConfig(FEED_URL, "feed", "Example blog"))[FEED_URL]
    write(eng, src, [entry("https://example.org/old", "stored by an older version", at(1))])
    with eng.begin() as conn:
        conn.execute(text("ALTER TABLE sighting DROP COLUMN said_at"))
        drop_later_schema(conn)  # the tables and columns of later revisions: no release before them had them
        conn.execute(text("DROP TABLE alembic_version"))
    with pytest.raises(SchemaVersionError):
        make_engine(db_url)
    upgrade(eng)
    eng.dispose()
    reopened = make_engine(db_url)
    try:
        assert "said_at" in {column["name"] for column in inspect(reopened).get_columns("sighting")}
        with reopened.connect() as conn:
            assert conn.execute(select(SIGHTING.c.said_at)).scalars().all() == [None]
        assert [v.title for v in query(reopened)] == ["stored by an older version"]
        write(reopened, src, [entry("https://example.org/new", "stored after the upgrade", at(2))])
        with reopened.connect() as conn:
            said = conn.execute(select(SIGHTING.c.said_at).order_by(SIGHTING.c.said_at)).scalars().all()
        assert said == [at(2), None] or said == [None, at(2)]
        assert titles(query(reopened)) == {"stored by an older version", "stored after the upgrade"}
    finally:
        reopened.dispose()
