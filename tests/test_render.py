"""Rendering of republished feeds: Atom, RSS and JSON Feed, each read back independently."""

from __future__ import annotations

import calendar
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from xml.sax.saxutils import quoteattr

import html5lib
import pytest
from feedcheck import assert_safe_html, assert_safe_url, parse_back, validate_atom
from lxml import etree

from aggregator.render import (
    FORMATS,
    MEDIA_TYPES,
    item_id,
    render_atom,
    render_feed,
    render_json,
    render_rss,
)
from aggregator.sanitize import clean_html
from aggregator.views import Enclosure, FeedLink, FeedMeta, ItemView, SourceRef

ATOM = "http://www.w3.org/2005/Atom"
AGG = "https://aggregator.invalid/ns/1.0"
NS = {
    "a": ATOM,
    "agg": AGG,
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
}
T0 = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)
SELF_URL = "https://agg.example/feeds/tag/kubernetes?min_bookmarks=3&sort=new&tag=%E6%A9%9F%E6%A2%B0"


def meta_for(fmt: str, **changes: Any) -> FeedMeta:
    meta = FeedMeta(
        title="タグ: Kubernetes",
        subtitle="Kubernetes に関する人気のブックマーク",
        self_url=f"{SELF_URL}&format={fmt}",
        html_url="https://agg.example/tag/kubernetes?min_bookmarks=3&sort=new",
        feed_id="tag:agg.example,2026:/feeds/tag/kubernetes",
        updated=T0,
    )
    return dataclasses.replace(meta, **changes)


def make_item(key: str, **fields: Any) -> ItemView:
    values: dict[str, Any] = {
        "id": 1,
        "key": key,
        "link": key,
        "title": "無題",
        "summary": None,
        "content": None,
        "author": None,
        "published": T0 - timedelta(days=1),
        "updated": T0 - timedelta(hours=1),
        "first_seen": T0 - timedelta(days=1),
        "site": "example.jp",
        "bookmark_count": None,
        "image": None,
    }
    values.update(fields)
    return ItemView(**values)


ITEMS = (
    make_item(
        "https://example.jp/k8s-grpc",
        id=1,
        title="Kubernetes上でgRPCサービスを動かす",
        summary="<p>gRPC を <b>Kubernetes</b> で動かす手順</p>",
        content='<p>本文: <a href="https://example.jp/ref">参考</a></p><ul><li>Pod</li></ul>',
        author="山田太郎",
        published=T0 - timedelta(hours=2),
        updated=T0,
        bookmark_count=128,
        image="https://example.jp/og.png",
        tags=("Kubernetes", "golang", "機械学習"),
        tag_names=("kubernetes", "golang", "機械学習"),
        sources=(
            SourceRef(1, "https://bookmarks.example/t/kubernetes.rss", "タグ kubernetes", "tag"),
            SourceRef(
                2,
                "https://bookmarks.example/u/yamada.rss",
                "yamada のブックマーク",
                "user",
                user="yamada",
                comment="あとで読む。良記事 <3",
            ),
        ),
        enclosures=(Enclosure("https://example.jp/talk.mp3", "audio/mpeg", 123456),),
    ),
    make_item(
        "guid:urn:uuid:7f7c3d8e",
        id=2,
        link="https://example.com/ml?x=1&y=2",
        title="機械学習パイプライン & MLOps",
        content="<p>機械学習の本文</p>",
        published=T0 - timedelta(days=1),
        updated=T0 - timedelta(hours=5),
        bookmark_count=7,
        tags=("機械学習",),
        tag_names=("機械学習",),
    ),
    make_item(
        "hash:0c1d2e",
        id=3,
        link=None,
        title="リンクのない項目",
        summary="<p>要約だけがある</p>",
        published=datetime(2026, 1, 8, 21, 0, tzinfo=timezone(timedelta(hours=9))),
        updated=datetime(2026, 1, 8, 21, 0, tzinfo=timezone(timedelta(hours=9))),
        site=None,
    ),
)

HOSTILE_HTML = (
    '<script>alert(1)</script><img src=x onerror="alert(1)">'
    '<a href="javascript&#58;alert(1)">entity</a><!--><script>alert(2)</script>-->'
    '<svg onload="alert(3)"><a xlink:href="javascript:alert(4)">svg</a></svg>'
    "<a href='data:text/html,<script>alert(5)</script>'>data</a>"
    "<a href=' JaVaScRiPt:alert(6)'>mixed</a><a href='java\tscript:alert(7)'>tab</a>"
    "<p onclick='alert(8)' style='x'>p</p><iframe src='javascript:alert(9)'></iframe>"
    '<img src="data:image/svg+xml;base64,PHN2Zz4=" srcset="javascript:alert(10) 2x">'
    '<form action="javascript:alert(11)"><button formaction="javascript:alert(12)">b</button></form>'
)
HOSTILE = (
    make_item(
        "https://evil.example/1",
        link="javascript:alert(document.cookie)",
        title="<script>alert('title')</script>危険<img src=x onerror=alert(1)>",
        summary=HOSTILE_HTML,
        content="<p>ok</p>" + HOSTILE_HTML,
        author="<script>alert(1)</script>Eve",
        image="javascript:alert(1)",
        tags=("<script>alert(1)</script>", "<img src=x onerror=alert(1)>xss"),
        tag_names=("<script>alert(1)</script>", "xss"),
        sources=(
            SourceRef(9, "javascript:alert(1)", "<script>alert(1)</script>evil", "user", "eve", "<b>hi</b>"),
        ),
        enclosures=(
            Enclosure("javascript:alert(1)", "audio/mpeg", 1),
            Enclosure("data:audio/mpeg;base64,AAAA", "audio/mpeg", 4),
            Enclosure("https://evil.example/ok.mp3", "<script>", None),
        ),
    ),
    make_item(
        "https://evil.example/2",
        link="data:text/html,<script>alert(1)</script>",
        title="制御文字\x00\x01\x0b\x1f\x7f\ufffe\ud800入り",
        summary="a&#1;b&#xFFFE;c&#x0B;d",
        content="<p title='&#1;x'>\x08本文&#0;</p>",
        author="\x01著者",
        tags=("タグ\x0c",),
        tag_names=("タグ\x0c",),
    ),
)


def parse_xml(data: bytes) -> Any:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def timestamp(parsed: Any) -> int:
    return calendar.timegm(parsed)


def alternate(entry: Any) -> str | None:
    """feedparser's ``link`` falls back to the id; only a real alternate link counts."""
    return next((link.href for link in entry.get("links", []) if link.rel == "alternate"), None)


def as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# Atom


def test_atom_is_valid_and_reads_back_exactly() -> None:
    meta = meta_for("atom")
    data = render_atom(meta, ITEMS)
    validate_atom(data)
    result = parse_back(data)

    assert result.version == "atom10"
    assert result.feed.title == meta.title
    assert result.feed.subtitle == meta.subtitle
    assert result.feed.id == meta.feed_id
    assert timestamp(result.feed.updated_parsed) == int(T0.timestamp())
    links = {link.rel: link for link in result.feed.links}
    assert links["self"].href == meta.self_url
    assert links["self"].type == "application/atom+xml"
    assert links["alternate"].href == meta.html_url

    assert [e.title for e in result.entries] == [item.title for item in ITEMS]
    assert [e.id for e in result.entries] == [item_id(item.key) for item in ITEMS]
    assert [alternate(e) for e in result.entries] == [item.link for item in ITEMS]
    for entry, item in zip(result.entries, ITEMS, strict=True):
        assert timestamp(entry.published_parsed) == int(item.published.timestamp())
        assert timestamp(entry.updated_parsed) == int(item.updated.timestamp())
        assert [(t.term, t.label) for t in entry.get("tags", [])] == list(
            zip(item.tag_names, item.tags, strict=True)
        )

    first = result.entries[0]
    assert first.author == "山田太郎"
    assert first.source.title == "タグ kubernetes"
    assert first.source.id == "https://bookmarks.example/t/kubernetes.rss"
    assert first.enclosures == [
        {"href": "https://example.jp/talk.mp3", "type": "audio/mpeg", "length": "123456"}
    ]
    assert "agg_bookmarkcount" not in first  # extension data only with extensions=True
    assert result.feed.author == meta.title  # entries without an author of their own
    assert "author" not in result.entries[1]


def test_atom_structure_with_lxml() -> None:
    meta = meta_for("atom")
    data = render_atom(meta, ITEMS)
    root = parse_xml(data)

    assert root.tag == f"{{{ATOM}}}feed"
    ids = root.xpath("a:entry/a:id/text()", namespaces=NS)
    assert len(ids) == len(set(ids)) == len(ITEMS)
    assert all(i.startswith("tag:aggregator,2026:item/") and len(i.split("/")[-1]) == 32 for i in ids)

    (self_link,) = root.xpath("a:link[@rel='self']", namespaces=NS)
    assert self_link.get("href") == meta.self_url
    assert b"href=" + quoteattr(meta.self_url).encode() in data
    assert b"&amp;sort=new&amp;" in data

    first, second, third = root.xpath("a:entry", namespaces=NS)
    assert first.findtext(f"{{{ATOM}}}content") == clean_html(ITEMS[0].content)
    assert first.find(f"{{{ATOM}}}content").get("type") == "html"
    assert first.findtext(f"{{{ATOM}}}summary") == clean_html(ITEMS[0].summary)
    assert first.find(f"{{{ATOM}}}summary").get("type") == "html"
    assert not root.xpath("//agg:*", namespaces=NS)
    assert first.xpath("a:source/a:link[@rel='self']/@href", namespaces=NS) == [
        "https://bookmarks.example/t/kubernetes.rss"
    ]
    (enclosure,) = first.xpath("a:link[@rel='enclosure']", namespaces=NS)
    assert dict(enclosure.attrib) == {
        "rel": "enclosure",
        "href": "https://example.jp/talk.mp3",
        "type": "audio/mpeg",
        "length": "123456",
    }
    assert second.xpath("a:link[not(@rel) or @rel='alternate']/@href", namespaces=NS) == [ITEMS[1].link]
    # No link: the summary becomes the content, as RFC 4287 requires one or the other.
    assert not third.xpath("a:link", namespaces=NS)
    assert third.findtext(f"{{{ATOM}}}content") == clean_html(ITEMS[2].summary)
    assert third.findtext(f"{{{ATOM}}}published") == "2026-01-08T12:00:00+00:00"


def test_atom_validator_rejects_invalid_documents() -> None:
    """validate_atom is only worth something if it fails where RFC 4287 says no."""
    good = render_atom(meta_for("atom"), ITEMS[:1])
    link_only = render_atom(meta_for("atom"), [make_item("https://example.jp/only-link")])
    validate_atom(good)
    validate_atom(link_only)
    broken = {
        "missing feed id": good.replace(b"<id>tag:agg.example,2026:/feeds/tag/kubernetes</id>", b""),
        "atom element unknown to the schema": good.replace(b"<subtitle>", b"<bogus/><subtitle>"),
        "bad date": good.replace(b"<published>2026-01-10T07:30:00+00:00", b"<published>yesterday"),
        "entry without alternate link or content": link_only.replace(
            b'<link href="https://example.jp/only-link"', b'<link rel="related" href="https://x.example/"'
        ).replace(b'<content type="html">&lt;p&gt;A link to example.jp&lt;/p&gt;</content>', b""),
        "no author anywhere": good.replace(b"<author>", b"<contributor>").replace(
            b"</author>", b"</contributor>"
        ),
        "not well-formed": good.replace(b"</feed>", b""),
    }
    for problem, data in broken.items():
        assert data not in (good, link_only), f"{problem}: the document was not changed"
        with pytest.raises(AssertionError):
            validate_atom(data)


def test_atom_entry_without_link_or_text_still_has_content() -> None:
    item = make_item("hash:empty", link=None, title="")
    data = render_atom(meta_for("atom"), [item])
    validate_atom(data)
    (entry,) = parse_xml(data).xpath("a:entry", namespaces=NS)
    assert entry.findtext(f"{{{ATOM}}}title") == "(untitled)"
    assert entry.find(f"{{{ATOM}}}content") is not None


# RSS


def test_rss_reads_back_exactly() -> None:
    meta = meta_for("rss")
    data = render_rss(meta, ITEMS)
    result = parse_back(data)

    assert result.version == "rss20"
    assert result.feed.title == meta.title
    assert result.feed.subtitle == meta.subtitle
    assert result.feed.link == meta.html_url
    assert parsedate_to_datetime(result.feed.updated) == T0

    assert [e.title for e in result.entries] == [item.title for item in ITEMS]
    assert [e.id for e in result.entries] == [item_id(item.key) for item in ITEMS]
    assert not any(e.guidislink for e in result.entries)
    assert [e.get("link") for e in result.entries] == [item.link for item in ITEMS]
    for entry, item in zip(result.entries, ITEMS, strict=True):
        assert parsedate_to_datetime(entry.published) == item.published
        assert [t.term for t in entry.get("tags", [])] == list(item.tags)

    first = result.entries[0]
    assert first.author == "山田太郎"
    assert first.source == {"href": "https://bookmarks.example/t/kubernetes.rss", "title": "タグ kubernetes"}
    assert first.enclosures == [
        {"href": "https://example.jp/talk.mp3", "type": "audio/mpeg", "length": "123456"}
    ]
    assert "agg_bookmarkcount" not in first  # extension data only with extensions=True


def test_rss_structure_with_lxml() -> None:
    meta = meta_for("rss")
    data = render_rss(meta, ITEMS)
    root = parse_xml(data)
    (channel,) = root.findall("channel")

    assert root.get("version") == "2.0"
    assert channel.findtext("description")
    assert channel.findtext("lastBuildDate") == format_datetime(T0)
    (self_link,) = channel.xpath("a:link[@rel='self']", namespaces=NS)
    assert self_link.get("href") == meta.self_url
    assert self_link.get("type") == "application/rss+xml"
    assert b"href=" + quoteattr(meta.self_url).encode() in data

    guids = channel.xpath("item/guid", namespaces=NS)
    assert [g.get("isPermaLink") for g in guids] == ["false"] * len(ITEMS)
    assert len({g.text for g in guids}) == len(ITEMS)

    first, second, third = channel.findall("item")
    assert first.findtext("description") == clean_html(ITEMS[0].summary)
    assert first.xpath("content:encoded/text()", namespaces=NS) == [clean_html(ITEMS[0].content)]
    assert first.xpath("dc:creator/text()", namespaces=NS) == ["山田太郎"]
    assert first.find("source").get("url") == "https://bookmarks.example/t/kubernetes.rss"
    assert len(first.findall("enclosure")) == 1
    # Content only: it is the description, without a duplicate content:encoded.
    assert second.findtext("description") == clean_html(ITEMS[1].content)
    assert not second.xpath("content:encoded", namespaces=NS)
    assert third.find("link") is None
    assert third.findtext("pubDate") == "Thu, 08 Jan 2026 12:00:00 +0000"


# JSON Feed

JSON_ITEM_MEMBERS = frozenset(
    {
        "id",
        "url",
        "external_url",
        "title",
        "content_html",
        "content_text",
        "summary",
        "image",
        "banner_image",
        "date_published",
        "date_modified",
        "authors",
        "tags",
        "language",
        "attachments",
    }
)


def test_json_feed_members_and_values() -> None:
    meta = meta_for("json")
    data = render_json(meta, ITEMS, extensions=True)
    feed = json.loads(data.decode("utf-8"))

    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == meta.title
    assert feed["home_page_url"] == meta.html_url
    assert feed["feed_url"] == meta.self_url
    assert feed["description"] == meta.subtitle
    assert isinstance(feed["items"], list)
    for entry in feed["items"]:
        assert isinstance(entry["id"], str) and entry["id"]
        assert isinstance(entry.get("content_html"), str) or isinstance(entry.get("content_text"), str)
        for name in ("date_published", "date_modified"):
            assert datetime.fromisoformat(entry[name]).tzinfo is not None
        for attachment in entry.get("attachments", []):
            assert attachment["url"] and "/" in attachment["mime_type"]
        assert all(key.startswith("_") or key in JSON_ITEM_MEMBERS for key in entry)

    items = feed["items"]
    assert [e["title"] for e in items] == [item.title for item in ITEMS]
    assert [e["id"] for e in items] == [item_id(item.key) for item in ITEMS]
    assert [e.get("url") for e in items] == [item.link for item in ITEMS]
    assert [e.get("tags", []) for e in items] == [list(item.tags) for item in ITEMS]
    for entry, item in zip(items, ITEMS, strict=True):
        assert datetime.fromisoformat(entry["date_published"]) == item.published
        assert datetime.fromisoformat(entry["date_modified"]) == item.updated

    first = items[0]
    assert first["content_html"] == clean_html(ITEMS[0].content)
    assert first["summary"] == "gRPC を Kubernetes で動かす手順"
    assert first["image"] == "https://example.jp/og.png"
    assert first["authors"] == [{"name": "山田太郎"}]
    assert first["attachments"] == [
        {"url": "https://example.jp/talk.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 123456}
    ]
    assert first["_aggregator"] == {
        "sources": [
            {
                "title": "タグ kubernetes",
                "url": "https://bookmarks.example/t/kubernetes.rss",
                "kind": "tag",
                "user": None,
                "comment": None,
            },
            {
                "title": "yamada のブックマーク",
                "url": "https://bookmarks.example/u/yamada.rss",
                "kind": "user",
                "user": "yamada",
                "comment": "あとで読む。良記事 <3",
            },
        ],
        "bookmark_count": 128,
        "site": "example.jp",
    }
    assert items[2]["content_html"] == clean_html(ITEMS[2].summary)
    assert items[2]["_aggregator"] == {"sources": [], "bookmark_count": None, "site": None}


def test_json_item_without_any_text_has_content_text() -> None:
    data = render_json(meta_for("json"), [make_item("hash:bare", link=None, title="")])
    (entry,) = json.loads(data)["items"]
    assert entry["title"] == "(untitled)"
    assert entry["content_text"] == ""
    assert "url" not in entry


# All formats


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_ascii_is_written_as_utf8(fmt: str) -> None:
    data = render_feed(fmt, meta_for(fmt), ITEMS)
    data.decode("utf-8")
    for text in ("Kubernetes上でgRPCサービスを動かす", "機械学習", "タグ: Kubernetes"):
        assert text.encode("utf-8") in data


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_feed_is_valid(fmt: str) -> None:
    meta = meta_for(fmt, updated=datetime(1970, 1, 1, tzinfo=UTC))
    data = render_feed(fmt, meta, [])
    if fmt == "json":
        feed = json.loads(data)
        assert feed["items"] == [] and feed["title"] == meta.title
        return
    if fmt == "atom":
        validate_atom(data)
    result = parse_back(data)
    assert result.entries == []
    assert result.feed.title == meta.title


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_is_deterministic(fmt: str) -> None:
    first = render_feed(fmt, meta_for(fmt), ITEMS)
    again = render_feed(fmt, meta_for(fmt), [dataclasses.replace(item) for item in ITEMS])
    assert first == again


def test_no_dates_but_the_given_ones() -> None:
    given = {T0} | {as_utc(d) for item in ITEMS for d in (item.published, item.updated)}
    root = parse_xml(render_atom(meta_for("atom"), ITEMS))
    found = root.xpath("//a:updated/text() | //a:published/text()", namespaces=NS)
    assert found and {datetime.fromisoformat(value) for value in found} <= given
    channel = parse_xml(render_rss(meta_for("rss"), ITEMS)).find("channel")
    rss_dates = channel.xpath("lastBuildDate/text() | pubDate/text() | item/pubDate/text()")
    assert rss_dates and {parsedate_to_datetime(value) for value in rss_dates} <= given


def test_ids_are_stable_and_distinct() -> None:
    changed = dataclasses.replace(ITEMS[0], title="改題", version=5, updated=T0 + timedelta(days=1), id=99)
    assert item_id(changed.key) == item_id(ITEMS[0].key)
    ids = {item_id(item.key) for item in ITEMS}
    assert len(ids) == len(ITEMS)
    assert item_id("https://example.jp/a") != item_id("https://example.jp/a/")
    for fmt in FORMATS:
        one = render_feed(fmt, meta_for(fmt), [ITEMS[0]])
        other = render_feed(fmt, meta_for(fmt), [changed])
        assert item_id(ITEMS[0].key).encode() in one and item_id(ITEMS[0].key).encode() in other


# What a feed reader sees for each format name: the media type it is served with, and what
# the bytes turn out to be when a real parser reads them (feedparser's version names).
DISPATCH = [
    ("atom", "application/atom+xml; charset=utf-8", "atom10"),
    ("rss", "application/rss+xml; charset=utf-8", "rss20"),
    ("json", "application/feed+json; charset=utf-8", "https://jsonfeed.org/version/1.1"),
]


@pytest.mark.parametrize(("fmt", "media_type", "parsed_as"), DISPATCH)
def test_dispatch_and_media_types(fmt: str, media_type: str, parsed_as: str) -> None:
    # Was: render_feed(fmt) == render_<fmt>(), the code compared with itself. Now: each format
    # name gives a document of that format, with every item, served with its own media type.
    assert MEDIA_TYPES[fmt] == media_type
    body = render_feed(fmt, meta_for(fmt), ITEMS)
    if fmt == "json":
        document = json.loads(body)
        assert document["version"] == parsed_as
        entries = len(document["items"])
        first_link = document["items"][0]["url"]
    else:
        result = parse_back(body)
        assert result.version == parsed_as
        entries = len(result.entries)
        first_link = alternate(result.entries[0])
    assert entries == len(ITEMS)
    assert first_link == ITEMS[0].link


def test_unknown_format_is_refused() -> None:
    assert set(FORMATS) == {fmt for fmt, _, _ in DISPATCH}
    with pytest.raises(ValueError, match="unknown feed format"):
        render_feed("rdf", meta_for("rdf"), ITEMS)


def test_title_falls_back_to_link() -> None:
    item = make_item("https://example.jp/notitle", title="  ")
    (entry,) = json.loads(render_json(meta_for("json"), [item]))["items"]
    assert entry["title"] == "https://example.jp/notitle"
    assert parse_back(render_rss(meta_for("rss"), [item])).entries[0].title == "https://example.jp/notitle"


# Hostile input


def test_checker_catches_every_payload() -> None:
    """The hostile-content checks below are only as good as this checker."""
    payloads = [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript&#58;alert(1)">x</a>',
        "<!--><script>alert(1)</script>-->",
        "<svg onload=alert(1)>",
        "<a href='data:text/html,x'>d</a>",
        "<a href='java\tscript:alert(1)'>t</a>",
        '<img srcset="javascript:alert(1) 2x">',
    ]
    for payload in payloads:
        with pytest.raises(AssertionError):
            assert_safe_html(payload)
    assert_safe_html('<p><a href="https://example.jp/">ok</a><a href="mailto:a@b.example">m</a></p>')
    assert_safe_html('<a href="/relative?a=1">r</a>')


def atom_fields(data: bytes) -> Iterator[tuple[str, str]]:
    """(kind, value) for every HTML-bearing text and URL in an Atom document."""
    for element in parse_xml(data).iter():
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        if local in {"title", "subtitle", "summary", "content", "name", "rights"}:
            yield "html", element.text or ""
        for name in ("href", "src", "uri", "url"):
            if element.get(name) is not None:
                yield "url", element.get(name)
        parent = element.getparent()
        in_source = parent is not None and etree.QName(parent).localname == "source"
        if local in {"uri", "icon", "logo"} or (local == "id" and in_source):
            yield "url", element.text or ""
        yield "text", element.get("term", "") + element.get("label", "")


def rss_fields(data: bytes) -> Iterator[tuple[str, str]]:
    for element in parse_xml(data).iter():
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        if local in {"title", "description", "encoded", "creator", "category", "source"}:
            yield "html", element.text or ""
        if local in {"link", "comments", "docs"} and element.text:
            yield "url", element.text
        for name in ("href", "url"):
            if element.get(name) is not None:
                yield "url", element.get(name)


def json_fields(data: bytes) -> Iterator[tuple[str, str]]:
    def walk(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
        if isinstance(value, dict):
            for k, v in value.items():
                yield from walk(v, k)
        elif isinstance(value, list):
            for v in value:
                yield from walk(v, key)
        elif isinstance(value, str):
            if key in {"url", "external_url", "image", "banner_image", "home_page_url", "feed_url", "icon"}:
                yield "url", value
            else:
                yield "html", value

    return walk(json.loads(data))


FIELD_READERS = {"atom": atom_fields, "rss": rss_fields, "json": json_fields}


@pytest.mark.parametrize("extensions", [False, True], ids=["default", "ext"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_content_is_neutralized(fmt: str, extensions: bool) -> None:
    data = render_feed(fmt, meta_for(fmt), HOSTILE, extensions=extensions)
    if fmt == "atom":
        validate_atom(data)
        parse_back(data)
    elif fmt == "rss":
        parse_back(data)
    fields = list(FIELD_READERS[fmt](data))
    assert sum(kind == "html" for kind, _ in fields) > 5
    for kind, value in fields:
        if kind == "url":
            assert_safe_url(value, where=fmt)
            assert value.split(":", 1)[0] in {"http", "https", "tag"}, value
        else:
            assert_safe_html(value, where=fmt)
    for bad in (b"\x00", b"\x01", b"\x0b", b"\x1f", "\ufffe".encode()):
        assert bad not in data


def test_hostile_items_lose_unsafe_links_and_enclosures() -> None:
    atom = parse_back(render_atom(meta_for("atom"), HOSTILE))
    first = atom.entries[0]
    assert alternate(first) is None
    assert [e.href for e in first.enclosures] == ["https://evil.example/ok.mp3"]
    assert first.enclosures[0].get("type") != "<script>"
    assert "source" not in first
    assert first.title == "危険"
    assert first.author == "Eve"
    assert [t.term for t in first.tags] == ["xss"]
    assert atom.entries[1].title == "制御文字入り"

    rss = parse_xml(render_rss(meta_for("rss"), HOSTILE)).find("channel")
    (enclosure,) = rss.xpath("item[1]/enclosure")
    assert enclosure.get("url") == "https://evil.example/ok.mp3"
    assert enclosure.get("type") == "application/octet-stream"

    (hostile, control) = json.loads(render_json(meta_for("json"), HOSTILE, extensions=True))["items"]
    assert "url" not in hostile and "image" not in hostile
    assert hostile["_aggregator"]["sources"][0]["url"] is None
    assert [a["url"] for a in hostile["attachments"]] == ["https://evil.example/ok.mp3"]
    assert control["summary"] == "abcd"


# Extensions are opt-in; bookmark-only items still say something

RSS_CONTENT = "http://purl.org/rss/1.0/modules/content/"
STANDARD_NAMESPACES = {"atom": {ATOM, None}, "rss": {ATOM, NS["dc"], RSS_CONTENT, None}}  # None: no namespace


def namespaces_used(data: bytes) -> set[str | None]:
    root = parse_xml(data)
    used: set[str | None] = set(root.nsmap.values())
    for element in root.iter():
        if isinstance(element.tag, str):
            used |= {etree.QName(element).namespace, *element.nsmap.values()}
            used |= {etree.QName(name).namespace for name in element.attrib}
    return used


def json_keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from json_keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from json_keys(inner)


@pytest.mark.parametrize("fmt", FORMATS)
def test_default_output_has_no_foreign_namespace(fmt: str) -> None:
    data = render_feed(fmt, meta_for(fmt), ITEMS)
    assert AGG.encode() not in data
    if fmt == "json":
        assert not [key for key in json_keys(json.loads(data)) if key.startswith("_")]
    else:
        assert namespaces_used(data) <= STANDARD_NAMESPACES[fmt]


@pytest.mark.parametrize("fmt", FORMATS)
def test_extensions_carry_the_bookmark_counts(fmt: str) -> None:
    data = render_feed(fmt, meta_for(fmt), ITEMS, extensions=True)
    expected = [item.bookmark_count for item in ITEMS]
    if fmt == "json":
        items = json.loads(data)["items"]
        assert [i["_aggregator"]["bookmark_count"] for i in items] == expected
        return
    assert AGG in namespaces_used(data)
    entries = parse_back(data).entries
    assert [e.get("agg_bookmarkcount") for e in entries] == [
        str(count) if count is not None else None for count in expected
    ]
    if fmt == "atom":
        validate_atom(data)


def text_of(fragment: str) -> str:
    """What a reader shows of an HTML fragment, paragraphs on their own lines."""
    root = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    return "\n".join("".join(p.itertext()) for p in root.iter("p")) or "".join(root.itertext())


def item_text(fmt: str, data: bytes) -> str:
    """The text content of the only item, read back with feedparser (json: the JSON Feed member)."""
    if fmt == "json":
        (entry,) = json.loads(data)["items"]
        assert "content_html" not in entry
        return str(entry["content_text"])
    if fmt == "atom":
        validate_atom(data)
    (entry,) = parse_back(data).entries
    blocks = [c.value for c in entry.get("content", [])] or [entry.get("summary", "")]
    return text_of(blocks[0])


COMMENT = "range over int が地味に嬉しい <3 & so on"
USER_FEED = "https://b.hatena.ne.jp/umiyosh/bookmark.rss"
TAG_FEED = "https://b.hatena.ne.jp/q/golang?mode=rss"
BOOKMARK_ONLY = {
    "comment": (
        {
            "bookmark_count": 42,
            "sources": (SourceRef(1, USER_FEED, "umiyosh のブックマーク", "user", "umiyosh", COMMENT),),
        },
        f"umiyosh: {COMMENT}",
    ),
    "two comments": (
        {
            "sources": (
                SourceRef(1, USER_FEED, "umiyosh のブックマーク", "user", "umiyosh", COMMENT),
                SourceRef(2, USER_FEED.replace("umiyosh", "deeeet"), "d", "user", "deeeet", "あとで読む"),
            ),
        },
        f"umiyosh: {COMMENT}\ndeeeet: あとで読む",
    ),
    "count only": (
        {"bookmark_count": 42, "sources": (SourceRef(3, TAG_FEED, "golang タグ", "tag"),)},
        "42 users bookmarked this",
    ),
    "one bookmark": ({"bookmark_count": 1}, "1 user bookmarked this"),
    "user without comment": (
        {"bookmark_count": 0, "sources": (SourceRef(1, USER_FEED, "umiyosh", "user", "umiyosh", ""),)},
        "Bookmarked by umiyosh",
    ),
    "nothing but the link": ({}, "A link to go.dev"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", list(BOOKMARK_ONLY))
def test_bookmark_only_item_has_text_content(fmt: str, case: str) -> None:
    fields, expected = BOOKMARK_ONLY[case]
    item = make_item("https://go.dev/blog/go1.22", title="Go 1.22 is released!", **fields)
    assert item.summary is None and item.content is None
    for extensions in (False, True):
        data = render_feed(fmt, meta_for(fmt), [item], extensions=extensions)
        assert item_text(fmt, data) == expected


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_feed_level_links_reach_every_format(fmt: str) -> None:
    links = (
        FeedLink("hub", "https://agg.test/websub"),
        FeedLink("next", "https://agg.test/feeds/all?x=1&y=2"),
    )
    body = render_feed(fmt, meta_for(fmt, links=links), [make_item("k1", link="https://a.test/1")])
    if fmt == "json":
        doc = json.loads(body)
        assert doc["hubs"] == [{"type": "WebSub", "url": "https://agg.test/websub"}]
        assert doc["next_url"] == "https://agg.test/feeds/all?x=1&y=2"
        return
    parsed = parse_back(body)
    found = {(link["rel"], link["href"]) for link in parsed.feed.links}
    assert {("hub", "https://agg.test/websub"), ("next", "https://agg.test/feeds/all?x=1&y=2")} <= found
    if fmt == "rss":  # the channel's own <link> is still the HTML listing
        assert parse_xml(body).findtext("channel/link") == meta_for(fmt).html_url


# -- each item's page ----------------------------------------------------------------------------

ITEM_PAGES = "https://agg.example/item/"


def related_links(fmt: str, body: bytes) -> list[list[str]]:
    """Per item, the URLs of its page as a reader finds them."""
    if fmt == "json":
        items = json.loads(body)["items"]
        return [[i["_aggregator"]["item_url"]] if "_aggregator" in i else [] for i in items]
    entries = parse_back(body).entries
    return [[link.href for link in e.get("links", []) if link.rel == "related"] for e in entries]


@pytest.mark.parametrize("extensions", [False, True], ids=["default", "ext"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_each_item_links_to_its_page(fmt: str, extensions: bool) -> None:
    body = render_feed(fmt, meta_for(fmt, item_pages=ITEM_PAGES), ITEMS, extensions=extensions)
    assert related_links(fmt, body) == [[f"{ITEM_PAGES}{item.id}"] for item in ITEMS]
    if fmt == "atom":
        validate_atom(body)
    if fmt != "json" and not extensions:
        assert namespaces_used(body) <= STANDARD_NAMESPACES[fmt]
    if fmt == "json" and extensions:  # the page joins the extension data, it does not replace it
        assert all("sources" in i["_aggregator"] for i in json.loads(body)["items"])


@pytest.mark.parametrize("base", ["", "javascript:alert(1)//", "/item/"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_no_page_link_without_an_absolute_http_base(fmt: str, base: str) -> None:
    body = render_feed(fmt, meta_for(fmt, item_pages=base), ITEMS)
    assert related_links(fmt, body) == [[] for _ in ITEMS]
    assert b"alert" not in body


FH = "http://purl.org/syndication/history/1.0"
HISTORY = (
    FeedLink("current", "https://agg.test/feeds/k8s.atom"),
    FeedLink("prev-archive", "https://agg.test/feeds/k8s/archive/2024-07.atom"),
    FeedLink("next-archive", "https://agg.test/feeds/k8s/archive/2024-09.atom"),
)


@pytest.mark.parametrize("archive", [True, False])
@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_an_archive_document_is_marked_and_keeps_its_history_links(fmt: str, archive: bool) -> None:
    meta = meta_for(fmt, links=HISTORY, archive=archive)
    body = render_feed(fmt, meta, [make_item("k1", link="https://a.test/1")])
    expected = {(link.rel, link.href) for link in HISTORY}
    if fmt == "json":
        doc = json.loads(body)
        assert doc["_fh"] == ({"archive": True} if archive else {}) | {r: h for r, h in expected}
        assert "next_url" not in doc  # next-archive is no next page
        return
    parsed = parse_back(body)
    assert expected <= {(link["rel"], link["href"]) for link in parsed.feed.links}
    root = parse_xml(body)
    head = root if fmt == "atom" else root.find("channel")
    assert len(head.findall(f"{{{FH}}}archive")) == (1 if archive else 0)
    if fmt == "atom":
        validate_atom(body)
    if archive:  # with the feed's metadata, before the first entry or item
        tags = [child.tag for child in head]
        entry = f"{{{ATOM}}}entry" if fmt == "atom" else "item"
        assert tags.index(f"{{{FH}}}archive") < tags.index(entry)
