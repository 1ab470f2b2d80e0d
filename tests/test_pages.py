"""The HTML pages, read the way a browser parses them (html5lib), over the polled samples."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import tomllib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit
from zoneinfo import ZoneInfo

import feedparser
import html5lib
import httpx
import pytest
from feedcheck import assert_safe_html, parse_back
from feedserver import FeedServer, Response
from procs import cli_command, cli_env, free_port
from sqlalchemy.engine import Engine
from test_api import (
    DEMO_CONFIG,
    NOW,
    SAMPLES,
    TestClient,
    polled_samples,
)

from aggregator.api import create_app
from aggregator.config import Config, load_config
from aggregator.db import make_engine
from aggregator.filters import parse_filter
from aggregator.itempage import render_item
from aggregator.pages import FeedLinks, render_index, render_listing
from aggregator.poller import Poller
from aggregator.store.slices import select_slice, source_rows, tag_counts
from aggregator.views import BookmarkPoint, FieldOrigin, ItemView, Provenance, Sighted, SourceRef, SourceView

FEED_TYPES = ("application/atom+xml", "application/rss+xml", "application/feed+json")
PAGES = ("/", "/tag/kubernetes", "/site/deeeet.com")


@dataclass
class Pages:
    engine: Engine
    config: Config
    client: TestClient

    def items(self, **params: Any) -> list[ItemView]:
        flt = parse_filter(params, aliases=self.config.aliases, now=NOW)
        with self.engine.connect() as conn:
            return select_slice(conn, flt)

    def get(self, url: str, status: int = 200) -> Any:
        response = self.client.get(url)
        assert response.status_code == status, (url, response.text[:300])
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        return response


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pages]:
    with polled_samples(tmp_path_factory.mktemp("pages"), extras=False) as (engine, config, client):
        yield Pages(engine, config, client)


def parse(html: str) -> Any:
    return html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=False)


def text(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


def elements(root: Any, *tags: str) -> list[Any]:
    return [e for e in root.iter() if e.tag in tags]


def by_class(root: Any, tag: str, cls: str) -> list[Any]:
    return [e for e in root.iter(tag) if cls in (e.get("class") or "").split()]


def alternates(root: Any) -> list[tuple[str, str]]:
    head = root.find("head")
    return [(e.get("type"), e.get("href")) for e in head.iter("link") if e.get("rel") == "alternate"]


def plain(html: str | None) -> str:
    return text(html5lib.parseFragment(html or "", treebuilder="etree", namespaceHTMLElements=False))


# -- the index -----------------------------------------------------------------------------------


def test_index_lists_outputs(pages: Pages) -> None:
    root = parse(pages.get("/").text)
    assert text(root.find("body/h1")) == "aggregator"
    items = {text(li).split(":")[0]: li for li in root.iter("li")}
    for output in pages.config.outputs:
        li = items[output.title]
        hrefs = {a.get("href") for a in li.iter("a")}
        assert hrefs == {f"/feeds/{output.slug}.{ext}" for ext in ("atom", "rss", "json")}
    assert {a.get("href") for a in items["Everything"].iter("a")} == {
        "/feeds/all.atom",
        "/feeds/all.rss",
        "/feeds/all.json",
    }


def test_index_lists_tags_with_counts(pages: Pages) -> None:
    root = parse(pages.get("/").text)
    shown = [(a.get("href"), text(a)) for a in by_class(root, "a", "tag")]
    with pages.engine.connect() as conn:
        counts = tag_counts(conn)
    assert shown == [(f"/tag/{quote(t.name, safe='')}", f"{t.display} ({t.count})") for t in counts]
    labels = dict(shown)
    assert labels["/tag/kubernetes"].casefold() == f"kubernetes ({len(pages.items(tag='k8s', limit=500))})"
    assert labels["/tag/" + quote("機械学習")] == "機械学習 (1)"
    assert labels["/tag/golang"].endswith(f" ({len(pages.items(tag='go', limit=500))})")


def test_index_lists_sources_with_health(pages: Pages) -> None:
    html = pages.get("/").text
    root = parse(html)
    rows = [tr for tr in root.iter("tr") if tr.find("td") is not None]
    with pages.engine.connect() as conn:
        db = {r.url: r for r in source_rows(conn)}
    assert len(rows) == len(pages.config.sources) == len(db)
    for tr in rows:
        cells = tr.findall("td")
        url = cells[0].find("a").get("href")
        row = db[url]
        assert text(cells[0]).startswith(row.title)
        assert text(cells[1]) == row.kind
        assert text(cells[2]) == str(row.items)
        assert row.next_poll_at is not None
        assert text(cells[4]) == row.next_poll_at.astimezone().strftime("%Y-%m-%d %H:%M")
        own_feed = [a.get("href") for a in cells[0].iter("a")][1]
        assert own_feed == f"/feeds/all.atom?source={row.id}"
        if url.endswith("/broken.xml"):
            assert text(cells[3]).startswith("error")
            (err,) = by_class(cells[3], "span", "err")
            assert text(err) == f"[not_a_feed] {row.last_error}"
        else:
            assert text(cells[3]) == row.last_status and row.last_status in ("new", "updated")
            assert not by_class(cells[3], "span", "err")
    total = sum(1 for _ in pages.items(limit=500))
    assert f"{total} items from {len(db)} sources" in text(root.find("body"))


def test_index_autodiscovery_links(pages: Pages) -> None:
    root = parse(pages.get("/").text)
    found = alternates(root)
    slugs = ["all"] + [o.slug for o in pages.config.outputs]
    expected = [
        (kind, f"/feeds/{slug}.{ext}")
        for slug in slugs
        for kind, ext in zip(FEED_TYPES, ("atom", "rss", "json"), strict=True)
    ]
    assert found == expected
    titles = [e.get("title") for e in root.find("head").iter("link") if e.get("rel") == "alternate"]
    assert "Popular Kubernetes posts (Atom)" in titles
    for kind, href in found:
        response = pages.client.get(urljoin("http://testserver/", href))
        assert response.status_code == 200
        assert response.headers["content-type"].split(";")[0] == kind


@pytest.mark.parametrize("page", PAGES)
def test_every_internal_link_resolves(pages: Pages, page: str) -> None:
    root = parse(pages.get(page).text)
    hrefs = {e.get("href") for e in elements(root, "a", "link") if e.get("href")}
    internal = sorted(h for h in hrefs if not urlsplit(h).scheme)
    assert len(internal) > 5
    for href in internal:
        response = pages.client.get(urljoin(f"http://testserver{page}", href))
        assert response.status_code == 200, href
    external = hrefs - set(internal)
    assert all(urlsplit(h).scheme in ("http", "https") for h in external)


# -- listings ------------------------------------------------------------------------------------


def listing(pages: Pages, url: str) -> list[Any]:
    root = parse(pages.get(url).text)
    (ul,) = by_class(root, "ul", "items")
    return ul.findall("li")


def assert_listing_shows(pages: Pages, url: str, items: list[ItemView]) -> None:
    root = parse(pages.get(url).text)
    assert f"{len(items)} items" in [text(p) for p in root.iter("p")]
    lis = listing(pages, url)
    assert len(lis) == len(items) > 0
    for li, item in zip(lis, items, strict=True):
        (title,) = by_class(li, "a", "title")
        assert text(title) == item.title
        assert title.get("href") == item.link
        counts = by_class(li, "span", "count")
        if item.bookmark_count is None:
            assert not counts
        else:
            assert [text(c) for c in counts] == [f"{item.bookmark_count} users"]
        (meta,) = by_class(li, "div", "meta")
        assert text(meta).startswith(item.published.strftime("%Y/%m/%d"))
        if item.site:
            assert f"/site/{item.site}" in [a.get("href") for a in meta.iter("a")]
        tags = [(a.get("href"), text(a)) for a in by_class(li, "a", "tag")]
        assert tags == [
            (f"/tag/{quote(n, safe='')}", d) for n, d in zip(item.tag_names, item.tags, strict=True)
        ]
        summary = plain(item.summary or item.content)
        if summary:
            (excerpt,) = [p for p in li.findall("p")]
            assert text(excerpt)[:40] == summary[:40]
        who = [text(d) for d in by_class(li, "div", "who")]
        expected_who = [
            f"{ref.user} {ref.seen:%Y/%m/%d}" + (f": {ref.comment}" if ref.comment else "")
            for ref in item.sources
            if ref.user and ref.seen
        ]
        assert who == expected_who


# --------------------------------------------------------------------------- expected listings
# Computed from the sample files and feeds/demo.toml alone, with feedparser / json and the
# rules the design notes state, never through select_slice: one article per link (http and
# https folded, host lower-cased, utm_* parameters and in-page fragments dropped), carrying
# every feed's tags (the entry's own plus its source's, NFKC + casefold, aliases applied) and
# the highest bookmark count any feed gave.


@dataclass
class Article:
    titles: set[str]
    tags: set[str]
    count: int | None
    host: str


def article_key(link: str) -> str:
    parts = urlsplit(link)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("utm_")]
    return f"https://{(parts.hostname or '').lower()}{parts.path}" + (f"?{urlencode(query)}" if query else "")


def fold_tag(tag: str, aliases: dict[str, str]) -> str:
    name = unicodedata.normalize("NFKC", tag).casefold().strip()
    return aliases.get(name, name)


def demo_aliases() -> dict[str, str]:
    demo = tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))
    return {fold_tag(k, {}): fold_tag(v, {}) for k, v in demo["aliases"].items()}


def sample_articles() -> dict[str, Article]:
    demo = tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))
    aliases = demo_aliases()
    articles: dict[str, Article] = {}
    for source in demo["sources"]:
        path = SAMPLES / source["url"].rsplit("/", 1)[-1]
        if path.name == "broken.xml":
            continue
        entries: list[tuple[str, str, list[str], int | None]] = []
        if path.suffix == ".json":
            for item in json.loads(path.read_bytes())["items"]:
                entries.append((item["url"], item["title"], list(item.get("tags", [])), None))
        else:
            for entry in feedparser.parse(path.read_bytes()).entries:
                count = entry.get("hatena_bookmarkcount")
                terms = [tag.term for tag in entry.get("tags", [])]
                entries.append((entry.link, entry.title, terms, int(count) if count else None))
        for link, title, tags, count in entries:
            key = article_key(link)
            article = articles.setdefault(key, Article(set(), set(), None, urlsplit(key).hostname or ""))
            article.titles.add(title)
            article.tags |= {fold_tag(tag, aliases) for tag in [*tags, *source.get("tags", [])]}
            if count is not None:
                article.count = max(count, article.count or 0)
    return articles


def expected_listing(
    *, tag: str | None = None, site: str | None = None, min_bookmarks: int = 0
) -> dict[str, Article]:
    aliases = demo_aliases()
    return {
        key: article
        for key, article in sample_articles().items()
        if (tag is None or fold_tag(tag, aliases) in article.tags)
        and (site is None or article.host == site or article.host.endswith("." + site))
        and (article.count or 0) >= min_bookmarks
    }


def assert_listing_is(pages: Pages, url: str, expected: dict[str, Article]) -> None:
    """The page lists exactly the expected articles, newest first, with their titles and counts."""
    lis = listing(pages, url)
    shown = {article_key(by_class(li, "a", "title")[0].get("href")): li for li in lis}
    assert len(shown) == len(lis)
    assert set(shown) == set(expected), url
    for key, li in shown.items():
        assert text(by_class(li, "a", "title")[0]) in expected[key].titles
        count = expected[key].count
        assert [text(c) for c in by_class(li, "span", "count")] == ([f"{count} users"] if count else [])
    dates = [text(by_class(li, "div", "meta")[0])[:10] for li in lis]
    assert dates == sorted(dates, reverse=True)


def test_tag_listing(pages: Pages) -> None:
    expected = expected_listing(tag="kubernetes")
    assert len(expected) >= 10
    assert_listing_is(pages, "/tag/kubernetes", expected)
    items = pages.items(tag="kubernetes")
    assert {article_key(item.link or "") for item in items} == set(expected)
    assert_listing_shows(pages, "/tag/kubernetes", items)
    lis = {text(by_class(li, "a", "title")[0]): li for li in listing(pages, "/tag/kubernetes")}
    micro = lis["なぜMicroservicesか?"]
    assert [text(c) for c in by_class(micro, "span", "count")] == ["815 users"]
    (who,) = by_class(micro, "div", "who")
    assert text(who).startswith("umiyosh ") and text(who).endswith(
        ": なぜやるべきか・なぜ避けるべきかの整理が良い"
    )
    assert "kubernetes" in [text(a).casefold() for a in by_class(micro, "a", "tag")]
    for spelling in ("Kubernetes", "k8s", quote("ＫＵＢＥＲＮＥＴＥＳ")):
        assert [text(li) for li in listing(pages, f"/tag/{spelling}")] == [text(li) for li in lis.values()]


def test_site_listing(pages: Pages) -> None:
    expected = expected_listing(site="deeeet.com")
    assert len(expected) >= 20
    assert_listing_is(pages, "/site/deeeet.com", expected)
    items = pages.items(site="deeeet.com")
    assert {article_key(item.link or "") for item in items} == set(expected)
    assert_listing_shows(pages, "/site/deeeet.com", items)
    for li in listing(pages, "/site/deeeet.com"):
        host = urlsplit(by_class(li, "a", "title")[0].get("href")).hostname or ""
        assert host == "deeeet.com" or host.endswith(".deeeet.com")
    lis = {text(by_class(li, "a", "title")[0]): li for li in listing(pages, "/site/deeeet.com")}
    review = [text(d) for d in by_class(lis["2021 Year in Review"], "div", "who")]
    assert len(review) == 1 and review[0].endswith(": ICからEMへ")
    assert [text(li) for li in listing(pages, "/site/Deeeet.COM")] == [text(li) for li in lis.values()]


def test_listing_with_filters(pages: Pages) -> None:
    popular = expected_listing(tag="kubernetes", min_bookmarks=250)
    assert 0 < len(popular) < len(expected_listing(tag="kubernetes"))
    assert_listing_is(pages, "/tag/kubernetes?min_bookmarks=250", popular)
    assert_listing_shows(
        pages, "/tag/kubernetes?min_bookmarks=250", pages.items(tag="kubernetes", min_bookmarks="250")
    )
    go_posts = expected_listing(site="deeeet.com", tag="golang")
    assert len(go_posts) > 3
    assert_listing_is(pages, "/site/deeeet.com?tag=golang", go_posts)
    everything = [text(li) for li in listing(pages, "/site/deeeet.com?tag=golang")]
    assert [text(li) for li in listing(pages, "/site/deeeet.com?tag=golang&limit=3")] == everything[:3]
    assert_listing_shows(
        pages, "/site/deeeet.com?tag=golang&limit=3", pages.items(site="deeeet.com", tag="golang", limit=3)
    )


def test_unknown_tag_lists_nothing(pages: Pages) -> None:
    root = parse(pages.get("/tag/no-such-tag").text)
    assert "0 items" in [text(p) for p in root.iter("p")]
    assert by_class(root, "ul", "items")[0].findall("li") == []


@pytest.mark.parametrize(
    ("page", "base"),
    [
        ("/tag/kubernetes", "/feeds/tag/kubernetes"),
        ("/tag/K8s", "/feeds/tag/kubernetes"),
        ("/tag/" + quote("機械学習"), "/feeds/tag/" + quote("機械学習")),
        ("/site/deeeet.com", "/feeds/site/deeeet.com"),
        ("/site/www.Deeeet.com", "/feeds/site/deeeet.com"),
    ],
)
def test_listing_advertises_its_feeds(pages: Pages, page: str, base: str) -> None:
    root = parse(pages.get(page).text)
    expected = [
        (kind, f"{base}.{ext}") for kind, ext in zip(FEED_TYPES, ("atom", "rss", "json"), strict=True)
    ]
    assert alternates(root) == expected
    (buttons,) = by_class(root, "p", "feeds")
    assert [(a.get("type"), a.get("href")) for a in buttons.iter("a")] == expected
    atom = pages.client.get(urljoin(f"http://testserver{page}", expected[0][1]))
    assert atom.status_code == 200
    entries = parse_back(atom.content).entries
    shown = [text(by_class(li, "a", "title")[0]) for li in listing(pages, page)]
    assert [e.title for e in entries] == shown


def test_filtered_listing_advertises_the_same_filtered_feeds(pages: Pages) -> None:
    page = "/tag/kubernetes?min_bookmarks=250"
    root = parse(pages.get(page).text)
    found = alternates(root)
    assert [href for _kind, href in found] == [
        f"/feeds/tag/kubernetes.{ext}?min_bookmarks=250" for ext in ("atom", "rss", "json")
    ]
    shown = [text(by_class(li, "a", "title")[0]) for li in listing(pages, page)]
    for kind, href in found:
        feed = pages.client.get(urljoin(f"http://testserver{page}", href))
        assert feed.headers["content-type"].split(";")[0] == kind
        if kind != "application/feed+json":
            assert [e.title for e in parse_back(feed.content).entries] == shown
        else:
            assert [i["title"] for i in feed.json()["items"]] == shown


# -- headers, CSP, encoding ----------------------------------------------------------------------


def csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/", 200),
        ("/tag/kubernetes", 200),
        ("/site/deeeet.com", 200),
        ("/tag/" + quote("機械学習"), 200),
        ("/tag/kubernetes?limit=abc", 422),
        ("/site/a..b", 422),
        ("/tag/" + "x" * 300, 422),
    ],
)
def test_pages_carry_a_strict_content_security_policy(pages: Pages, url: str, status: int) -> None:
    response = pages.get(url, status)
    csp = csp_directives(response.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    for name, sources in csp.items():
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, name
        assert "*" not in sources and "data:" not in sources, name
    if "script-src" in csp:
        assert csp["script-src"] in (["'none'"], ["'self'"])
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    root = parse(response.text)
    assert not elements(root, "script", "style", "iframe", "object", "embed")
    for element in root.iter():
        attributes = [a.lower() for a in element.attrib]
        assert "style" not in attributes
        assert not any(a.startswith("on") for a in attributes)
    stylesheets = [e.get("href") for e in root.iter("link") if e.get("rel") == "stylesheet"]
    assert stylesheets == ["/static/style.css"]
    assert_safe_html(response.text, where=url)


def test_stylesheet_is_served_from_self(pages: Pages) -> None:
    response = pages.client.get("/static/style.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "max-age=" in response.headers["cache-control"]
    assert "body{" in response.text


@pytest.mark.parametrize("url", ["/", "/tag/" + quote("機械学習"), "/site/deeeet.com"])
def test_japanese_renders_as_utf8(pages: Pages, url: str) -> None:
    response = pages.get(url)
    body = response.content.decode("utf-8")
    root = parse(body)
    # lang only as the feeds declare it: the blog and the JSON Feed say ja, the Hatena feeds nothing
    assert {root.get("lang"), *(li.get("lang") for li in root.iter("li"))} <= {None, "ja"}
    assert [m.get("charset") for m in root.find("head").iter("meta") if m.get("charset")] == ["utf-8"]
    assert body.encode("utf-8") == response.content
    for mojibake in ("\ufffd", "Ã", "ã\x81"):
        assert mojibake not in body
    words = {
        "/": ("機械学習 (1)", "はてなブックマーク: kubernetes タグ"),
        "/site/deeeet.com": ("なぜMicroservicesか?", "社内PlatformチームのProduct Management"),
    }.get(url, ("KubernetesでGPUを使う", "機械学習"))
    for word in words:
        assert word in text(root)
    if url.startswith("/tag/"):
        assert text(root.find("body/h1")) == "Tagged “機械学習”"
        assert text(root.find("head/title")) == "Tagged “機械学習”"


def test_index_leaves_out_sources_removed_from_the_configuration() -> None:
    def row(ident: int, url: str, enabled: bool) -> SourceView:
        return SourceView(id=ident, url=url, title=url, kind="feed", items=3, enabled=enabled)

    rows = [row(1, "https://a.example/feed", True), row(2, "https://b.example/feed", False)]
    root = parse(render_index([], [], rows, 6))
    listed = [tr.find("td/a").get("href") for tr in root.iter("tr") if tr.find("td") is not None]
    assert listed == ["https://a.example/feed"]
    assert "6 items from 1 sources" in text(root.find("body"))


# -- display time zone and language ---------------------------------------------------------------

TOKYO_MIDNIGHT = datetime(2019, 5, 20, 0, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 2019-05-19 15:00 UTC


def view(ident: int, language: str | None, published: datetime = TOKYO_MIDNIGHT) -> ItemView:
    when = published.astimezone(UTC)
    return ItemView(
        id=ident,
        key=f"https://example.jp/{ident}",
        link=f"https://example.jp/{ident}",
        title=f"post {ident}",
        summary=None,
        content=None,
        author=None,
        published=when,
        updated=when,
        first_seen=when,
        site="example.jp",
        bookmark_count=None,
        image=None,
        language=language,
    )


def zoned_listing(items: list[ItemView], zone: ZoneInfo | None = None) -> Any:
    return parse(render_listing("h", FeedLinks("h", "/feeds/all"), items, zone))


def item_dates(root: Any) -> list[str]:
    return [text(m).split(" ")[0] for m in by_class(root, "div", "meta")]


@pytest.mark.parametrize(
    ("zone", "shown"),
    [("Asia/Tokyo", "2019/05/20"), ("UTC", "2019/05/19"), ("America/New_York", "2019/05/19")],
)
def test_listing_dates_are_in_the_display_zone(zone: str, shown: str) -> None:
    assert item_dates(zoned_listing([view(1, None)], ZoneInfo(zone))) == [shown]


@pytest.mark.parametrize(
    ("languages", "page", "per_item"),
    [
        (["ja", "ja"], "ja", [None, None]),
        (["ja", "en-US"], None, ["ja", "en-US"]),
        (["ja", None], None, ["ja", None]),
        ([None, None], None, [None, None]),
    ],
)
def test_listing_lang_comes_from_the_feeds(
    languages: list[str | None], page: str | None, per_item: list[str | None]
) -> None:
    root = zoned_listing([view(n, lang) for n, lang in enumerate(languages)])
    assert root.get("lang") == page
    assert [li.get("lang") for li in root.iter("li")] == per_item


def test_index_lang_and_next_poll_follow_the_sources_and_the_zone() -> None:
    row = SourceView(
        id=1,
        url="https://example.jp/feed",
        title="jp",
        items=1,
        next_poll_at=datetime(2019, 5, 19, 15, 30, tzinfo=UTC),
        feed_language="ja",
    )
    root = parse(render_index([], [], [row], 1, ZoneInfo("Asia/Tokyo")))
    assert root.get("lang") == "ja"
    (tr,) = [tr for tr in root.iter("tr") if tr.find("td") is not None]
    assert text(tr.findall("td")[4]) == "2019-05-20 00:30"
    other = replace(row, id=2, url="https://example.org/feed", feed_language="en")
    assert parse(render_index([], [], [row, other], 1)).get("lang") is None


JP_RSS = (
    '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>日本のブログ</title>'
    "<link>https://example.jp/</link><description>d</description><language>ja</language>"
    "<item><title>令和の初日から</title><link>https://example.jp/reiwa</link>"
    "<pubDate>Mon, 20 May 2019 00:00:00 +0900</pubDate></item></channel></rss>"
).encode()


@pytest.fixture(scope="module")
def jp_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real SQLite file holding one Japanese feed polled by the real poller, and a config for it."""
    directory = tmp_path_factory.mktemp("jp")
    url = f"sqlite:///{directory / 'jp.db'}"
    with FeedServer() as srv:
        srv.reply("/jp.rss", Response(body=JP_RSS, headers={"Content-Type": "application/rss+xml"}))
        path = directory / "feeds.toml"
        path.write_text(
            f'[poller]\nallow_private_networks = true\n[[sources]]\nurl = "{srv.url("/jp.rss")}"\n',
            encoding="utf-8",
        )
        engine = make_engine(url)
        asyncio.run(Poller(engine, load_config(path)).run_once(force=True))
        engine.dispose()
    yield url, path


def test_served_page_uses_the_configured_zone_and_the_feed_language(jp_db: tuple[str, Path]) -> None:
    url, path = jp_db
    path.write_text(path.read_text(encoding="utf-8") + '[server]\ntimezone = "Asia/Tokyo"\n', "utf-8")
    engine = make_engine(url)
    try:
        with TestClient(create_app(engine, load_config(path))) as client:
            root = parse(client.get("/site/example.jp").text)
    finally:
        engine.dispose()
    assert root.get("lang") == "ja"
    assert item_dates(root) == ["2019/05/20"]


@pytest.mark.parametrize(("tz", "shown"), [("Asia/Tokyo", "2019/05/20"), ("UTC", "2019/05/19")])
def test_serve_shows_dates_in_the_servers_tz_by_default(
    jp_db: tuple[str, Path], tmp_path: Path, tz: str, shown: str
) -> None:
    url, _ = jp_db
    config = tmp_path / "feeds.toml"
    config.write_text("", encoding="utf-8")
    port = free_port()
    env = {**cli_env(), "TZ": tz}
    server = subprocess.Popen(
        [*cli_command("--config", str(config), "--db", url, "serve", "--port", str(port))],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        page = get_when_up(f"http://127.0.0.1:{port}/site/example.jp", server)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert item_dates(parse(page)) == [shown]


def get_when_up(url: str, server: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, timeout=2).text
        except httpx.TransportError:
            assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)


IDN_RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>idn</title><link>https://other.example/</link><description>d</description>
<item><title>unicode spelling</title><link>https://例え.jp/a</link><guid>a</guid></item>
<item><title>punycode spelling</title><link>https://XN--R8JZ45G.jp./b</link><guid>b</guid></item>
<item><title>elsewhere</title><link>https://other.example/c</link><guid>c</guid></item>
</channel></rss>""".encode()


@pytest.mark.parametrize("typed", ["例え.jp", "xn--r8jz45g.jp", "XN--R8JZ45G.JP."])
def test_a_host_in_either_spelling_is_one_site_shown_in_unicode(tmp_path: Path, typed: str) -> None:
    url = f"sqlite:///{tmp_path / 'idn.db'}"
    with FeedServer() as srv:
        srv.reply("/idn.rss", Response(body=IDN_RSS, headers={"Content-Type": "application/rss+xml"}))
        path = tmp_path / "feeds.toml"
        path.write_text(
            f'[poller]\nallow_private_networks = true\n[[sources]]\nurl = "{srv.url("/idn.rss")}"\n'
        )
        engine = make_engine(url)
        try:
            asyncio.run(Poller(engine, load_config(path)).run_once(force=True))
            with TestClient(create_app(engine, load_config(path))) as client:
                root = parse(client.get(f"/site/{quote(typed)}").text)
        finally:
            engine.dispose()
    titles = sorted(
        text(by_class(li, "a", "title")[0]) for li in by_class(root, "ul", "items")[0].findall("li")
    )
    assert titles == ["punycode spelling", "unicode spelling"]
    listed = by_class(root, "ul", "items")[0]  # (the sort tabs link to /site/ too)
    shown_hosts = {text(a) for a in listed.iter("a") if (a.get("href") or "").startswith("/site/")}
    assert shown_hosts == {"例え.jp"}


# -- an item's page: why it is here ---------------------------------------------------------------

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def hostile_provenance() -> Provenance:
    when = TOKYO_MIDNIGHT.astimezone(UTC)
    ref = SourceRef(7, "javascript:alert(3)", f"feed {HOSTILE}", "user", user=f"u{HOSTILE}", comment=HOSTILE)
    item = replace(view(5, None), title=f"t{HOSTILE}", link="javascript:alert(4)")
    item = replace(item, tags=(HOSTILE,), tag_names=("x",))
    sighted = Sighted(ref, (HOSTILE,), ("x",), 3, when, when, when, owner=True)
    return Provenance(
        item=item,
        owner_source_id=7,
        sightings=(sighted,),
        fields=(FieldOrigin("title", "owner", (7,), HOSTILE),),
        history=(BookmarkPoint(when, 3, 7, HOSTILE),),
    )


def test_item_page_escapes_everything_sources_said() -> None:
    html = render_item(hostile_provenance())
    assert_safe_html(html, where="item page")
    root = parse(html)
    assert text(root.find("body/h1")) == f"t{HOSTILE}"  # shown as text
    assert root.find("body/h1/a") is None  # an unsafe link is not linked
    (table,) = by_class(root, "table", "sightings")
    cells = [text(td) for td in table.iter("td")]
    assert cells[:5] == [f"feed {HOSTILE} (owner)", "user", HOSTILE, f"u{HOSTILE}", HOSTILE]
    assert [a.get("href") for a in table.iter("a")] == ["/tag/x"]  # the source's unsafe URL is not linked
    (fields,) = by_class(root, "table", "fields")
    assert [text(td) for td in fields.iter("td")] == ["title", "owner", f"feed {HOSTILE}", HOSTILE]
    (history,) = by_class(root, "table", "history")
    assert [text(td) for td in history.iter("td")][1:] == ["3", HOSTILE]


@pytest.mark.parametrize(("zone", "shown"), [("Asia/Tokyo", "2019-05-20 00:00"), ("UTC", "2019-05-19 15:00")])
def test_item_page_times_are_in_the_display_zone(zone: str, shown: str) -> None:
    root = parse(render_item(hostile_provenance(), ZoneInfo(zone)))
    (table,) = by_class(root, "table", "sightings")
    assert [text(td) for td in table.iter("td")][6:] == [shown, shown, shown]
    (history,) = by_class(root, "table", "history")
    assert next(text(td) for td in history.iter("td")) == shown
