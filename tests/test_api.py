"""The HTTP service end to end: sample feeds served over real HTTP, polled into a real
database, then read back through every route and format with independent readers."""

from __future__ import annotations

import asyncio
import base64
import json
import tomllib
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import feedparser
import pytest
from feedcheck import assert_safe_html, assert_safe_url, parse_back, validate_atom
from feedserver import FeedServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy.engine import Engine

from aggregator.api import create_app
from aggregator.config import Config, parse_config
from aggregator.db import make_engine
from aggregator.filters import PARAMS as FILTER_NAMES
from aggregator.filters import parse_filter
from aggregator.poller import Poller
from aggregator.render import item_id
from aggregator.store.slices import select_slice, tag_counts
from aggregator.views import ItemView

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "feeds" / "samples"
DEMO_CONFIG = ROOT / "feeds" / "demo.toml"
DEMO_BASE = "http://127.0.0.1:8001"
NOW = datetime(2024, 9, 1, tzinfo=UTC)
FORMATS = ("atom", "rss", "json")
MEDIA = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
CONTENT_TYPES = {
    ".rdf": "application/rdf+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".xml": "text/html; charset=utf-8",
}
ATOM = "http://www.w3.org/2005/Atom"
AGG = "https://aggregator.invalid/ns/1.0"
NS = {"a": ATOM, "agg": AGG, "atom": ATOM, "content": "http://purl.org/rss/1.0/modules/content/"}
XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
KUBERNETES_JA = "機械学習"

# Items on deeeet.com's subdomains, and on hosts that only look like it.
EXTRA_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Lookalikes</title><link>https://example.org/</link>
<description>subdomains and lookalike hosts</description>
<item><title>Subdomain post</title><link>https://blog.deeeet.com/posts/sub-1</link>
<pubDate>Mon, 03 Feb 2025 10:00:00 +0000</pubDate><category>kubernetes</category></item>
<item><title>Www post</title><link>https://WWW.DEEEET.COM/posts/www-1</link>
<pubDate>Sun, 02 Feb 2025 10:00:00 +0000</pubDate><category>golang</category></item>
<item><title>Lookalike prefix</title><link>https://notdeeeet.com/posts/1</link>
<pubDate>Sat, 01 Feb 2025 10:00:00 +0000</pubDate><category>kubernetes</category></item>
<item><title>Lookalike suffix</title><link>https://deeeet.com.evil.example/posts/1</link>
<pubDate>Fri, 31 Jan 2025 10:00:00 +0000</pubDate><category>kubernetes</category></item>
</channel></rss>
"""

_VECTORS = (
    '<p>Visible text</p><script>alert("desc")</script>'
    '<img src="https://hostile.example/a.png" onerror="alert(1)">'
    '<a href="javascript:alert(2)">js link</a>'
    '<a href="javascript&#58;alert(3)">entity colon</a>'
    '<a href="&#106;avascript:alert(4)">entity j</a>'
    '<a href=" java&#x09;script:alert(5)">tab</a>'
    '<a href="JaVaScRiPt:alert(6)">mixed case</a>'
    '<!--><script>alert("comment")</script>-->'
    "<svg><script>alert(7)</script></svg>"
    '<iframe src="javascript:alert(8)"></iframe>'
    '<form action="javascript:alert(9)"><button formaction="javascript:alert(10)">x</button></form>'
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>'
    '<img src="vbscript:msgbox(1)">'
    '<div style="background:url(javascript:alert(11))" onclick="alert(12)">div</div>'
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(13)></style></mglyph></table></mtext></math>"
    '<noscript><p title="</noscript><img src=x onerror=alert(14)>"></noscript>'
    '<object data="javascript:alert(15)"></object><embed src="javascript:alert(16)">'
    '<base href="javascript:alert(17)//"><meta http-equiv="refresh" content="0;url=javascript:alert(18)">'
)

HOSTILE_RSS = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>&lt;script&gt;alert("feed")&lt;/script&gt;Hostile</title><link>https://hostile.example/</link>
<description>hostile</description>
<item>
  <title>&lt;script&gt;alert("title")&lt;/script&gt;Hostile one &lt;img src=x onerror=alert(1)&gt;</title>
  <link>https://hostile.example/posts/1</link>
  <guid>https://hostile.example/posts/1</guid>
  <pubDate>Mon, 03 Mar 2025 10:00:00 +0000</pubDate>
  <category>hostile</category><category>kubernetes</category>
  <category>&lt;script&gt;alert("tag")&lt;/script&gt;</category>
  <description><![CDATA[{_VECTORS}]]></description>
  <content:encoded><![CDATA[<h2>Content</h2>{_VECTORS}]]></content:encoded>
  <enclosure url="javascript:alert(19)" type="audio/mpeg" length="100"/>
</item>
<item>
  <title>Hostile two &lt;b onmouseover=alert(1)&gt;bold&lt;/b&gt;</title>
  <link>javascript:alert(document.domain)</link>
  <guid isPermaLink="false">hostile-2</guid>
  <pubDate>Sun, 02 Mar 2025 10:00:00 +0000</pubDate>
  <category>hostile</category>
  <description>&lt;a href="javascript&amp;#58;alert(20)"&gt;double encoded&lt;/a&gt;
    &lt;script&gt;alert(21)&lt;/script&gt;</description>
  <enclosure url="https://hostile.example/ok.mp3" type="audio/mpeg" length="10"/>
</item>
<item>
  <title><![CDATA[<script>alert("cdata")</script>Hostile three]]></title>
  <link>https://hostile.example/posts/3</link>
  <pubDate>Sat, 01 Mar 2025 10:00:00 +0000</pubDate>
  <category>hostile</category>
  <description>&lt;!--&gt;&lt;script&gt;alert(22)&lt;/script&gt;--&gt;plain</description>
  <enclosure url="data:audio/mpeg;base64,AAAA" type="audio/mpeg" length="4"/>
</item>
<item>
  <title>Raw <script>alert("raw")</script> title</title>
  <link>https://hostile.example/posts/4</link>
  <pubDate>Fri, 28 Feb 2025 10:00:00 +0000</pubDate>
  <category>hostile</category>
  <description>raw title</description>
</item>
</channel></rss>
""".encode()

HOSTILE_USER_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>mallory's bookmarks</title><link>https://hostile.example/mallory</link>
<description>bookmarks</description>
<item><title>Hostile one</title><link>https://hostile.example/posts/1</link>
<dc:creator>&lt;script&gt;alert("user")&lt;/script&gt;mallory</dc:creator>
<pubDate>Mon, 03 Mar 2025 11:00:00 +0000</pubDate><category>hostile</category>
<description>&lt;img src=x onerror=alert("comment")&gt;great post
&lt;script&gt;alert(23)&lt;/script&gt;</description>
</item></channel></rss>
"""

HOSTILE_JSON = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "<script>alert(1)</script>JSON hostile",
        "home_page_url": "https://hostile.example/json/",
        "items": [
            {
                "id": "j1",
                "url": "https://hostile.example/json/1",
                "title": "<img src=x onerror=alert(1)>JSON hostile one",
                "content_html": _VECTORS,
                "summary": "<script>alert(24)</script>summary",
                "image": "javascript:alert(25)",
                "tags": ["hostile", '<script>alert("jtag")</script>'],
                "date_published": "2025-03-04T10:00:00Z",
                "attachments": [{"url": "javascript:alert(26)", "mime_type": "audio/mpeg"}],
                "authors": [{"name": "<script>alert(27)</script>eve"}],
            },
            {
                "id": "j2",
                "url": "javascript:alert(28)",
                "external_url": "javascript:alert(29)",
                "title": "JSON hostile two",
                "content_text": "<script>alert(30)</script>text",
                "tags": ["hostile"],
                "date_published": "2025-03-05T10:00:00Z",
            },
        ],
    }
).encode()

EXTRA_FEEDS: dict[str, tuple[bytes, str, str]] = {
    # path: (body, content type, source kind)
    "/extra.rss": (EXTRA_RSS, "application/rss+xml", "feed"),
    "/hostile.rss": (HOSTILE_RSS, "application/rss+xml", "feed"),
    "/hostile-user.rss": (HOSTILE_USER_RSS, "application/rss+xml", "user"),
    "/hostile.json": (HOSTILE_JSON, "application/feed+json", "feed"),
}


def serve_samples(srv: FeedServer, *, extras: bool = True) -> None:
    for path in sorted(SAMPLES.iterdir()):
        srv.route("/" + path.name, path.read_bytes(), content_type=CONTENT_TYPES[path.suffix])
    if extras:
        for name, (body, content_type, _kind) in EXTRA_FEEDS.items():
            srv.route(name, body, content_type=content_type)


def sample_config(base_url: str, *, extras: bool = True) -> Config:
    raw = tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))
    for source in raw["sources"]:
        assert source["url"].startswith(DEMO_BASE)
        source["url"] = base_url + source["url"][len(DEMO_BASE) :]
    if extras:
        # hostile.rss has no title here, so its own (hostile) feed title is what gets shown
        raw["sources"] += [
            {"url": base_url + name, "kind": kind} | ({} if name == "/hostile.rss" else {"title": name[1:]})
            for name, (_body, _type, kind) in EXTRA_FEEDS.items()
        ]
    raw["poller"]["allow_private_networks"] = True
    return parse_config(raw)


def poll(engine: Engine, config: Config) -> None:
    report = asyncio.run(Poller(engine, config).run_once(force=True))
    failed = {o.url.rsplit("/", 1)[-1] for o in report.outcomes if o.status in ("error", "gone")}
    assert failed == {"broken.xml"}, report.summary()


def client_for(engine: Engine, config: Config, clock: datetime = NOW) -> TestClient:
    return TestClient(create_app(engine, config, clock=lambda: clock))


@contextmanager
def polled_samples(directory: Path, *, extras: bool = True) -> Iterator[tuple[Engine, Config, TestClient]]:
    """The sample feeds polled into an SQLite file in ``directory``, and a client of the app over it."""
    engine = make_engine(f"sqlite:///{directory / 'samples.db'}")
    try:
        with FeedServer() as srv:
            serve_samples(srv, extras=extras)
            config = sample_config(srv.base_url, extras=extras)
            poll(engine, config)
        with client_for(engine, config) as client:
            yield engine, config, client
    finally:
        engine.dispose()


@dataclass
class Site:
    engine: Engine
    config: Config
    client: TestClient

    def expected(self, params: dict[str, Any], now: datetime = NOW) -> list[ItemView]:
        flt = parse_filter(params, aliases=self.config.aliases, now=now)
        with self.engine.connect() as conn:
            return select_slice(conn, flt)

    def source_id(self, name: str) -> int:
        rows = self.client.get("/api/sources").json()
        return next(r["id"] for r in rows if r["url"].endswith("/" + name))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with polled_samples(tmp_path_factory.mktemp("api")) as (engine, config, client):
        yield Site(engine, config, client)


# -- reading feeds back --------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    id: str
    link: str | None
    title: str
    tags: frozenset[str]  # normalized names
    bookmarks: int | None
    published: datetime


@dataclass(frozen=True)
class Feed:
    id: str | None
    self_url: str
    entries: list[Entry]


def _int(value: str | None) -> int | None:
    return int(value) if value is not None else None


def _atom(body: bytes, config: Config) -> Feed:
    validate_atom(body)
    parsed = parse_back(body)
    root = etree.fromstring(body, XML)
    assert root.tag == f"{{{ATOM}}}feed"
    entries = []
    for e in root.findall("a:entry", NS):
        assert e.findtext("a:title", namespaces=NS) is not None
        assert e.findtext("a:updated", namespaces=NS)
        alternate = e.xpath("a:link[not(@rel) or @rel='alternate']/@href", namespaces=NS)
        entries.append(
            Entry(
                id=e.findtext("a:id", namespaces=NS),
                link=alternate[0] if alternate else None,
                title=e.findtext("a:title", namespaces=NS),
                tags=frozenset(e.xpath("a:category/@term", namespaces=NS)),
                bookmarks=_int(e.findtext("agg:bookmarkCount", namespaces=NS)),
                published=datetime.fromisoformat(e.findtext("a:published", namespaces=NS)),
            )
        )
    assert [x.id for x in parsed.entries] == [x.id for x in entries]
    (self_url,) = root.xpath("a:link[@rel='self']/@href", namespaces=NS)
    return Feed(root.findtext("a:id", namespaces=NS), self_url, entries)


def _rss(body: bytes, config: Config) -> Feed:
    parsed = parse_back(body)
    assert parsed.version == "rss20"
    root = etree.fromstring(body, XML)
    assert root.tag == "rss" and root.get("version") == "2.0"
    (channel,) = root.findall("channel")
    assert channel.findtext("title") and channel.findtext("link") and channel.findtext("description")
    entries = []
    for item in channel.findall("item"):
        guid = item.find("guid")
        assert guid is not None and guid.get("isPermaLink") == "false"
        entries.append(
            Entry(
                id=guid.text or "",
                link=item.findtext("link"),
                title=item.findtext("title") or "",
                tags=frozenset(config.normalize(c.text or "") for c in item.findall("category")),
                bookmarks=_int(item.findtext("agg:bookmarkCount", namespaces=NS)),
                published=parsedate_to_datetime(item.findtext("pubDate")),
            )
        )
    assert [x.id for x in parsed.entries] == [x.id for x in entries]
    (self_url,) = channel.xpath("atom:link[@rel='self']/@href", namespaces=NS)
    return Feed(None, self_url, entries)


def _json(body: bytes, config: Config) -> Feed:
    doc = json.loads(body.decode("utf-8"))
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(doc["title"], str) and isinstance(doc["items"], list)
    entries = []
    for item in doc["items"]:
        assert isinstance(item["id"], str)
        assert "content_html" in item or "content_text" in item
        entries.append(
            Entry(
                id=item["id"],
                link=item.get("url"),
                title=item["title"],
                tags=frozenset(config.normalize(t) for t in item.get("tags", [])),
                bookmarks=item.get("_aggregator", {}).get("bookmark_count"),  # only with ?ext=1
                published=datetime.fromisoformat(item["date_published"]),
            )
        )
    return Feed(None, doc["feed_url"], entries)


READERS = {"atom": _atom, "rss": _rss, "json": _json}


def read_feed(fmt: str, body: bytes, config: Config) -> Feed:
    return READERS[fmt](body, config)


def fetch_feed(site: Site, url: str, fmt: str) -> Feed:
    response = site.client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MEDIA[fmt]
    assert response.headers["x-content-type-options"] == "nosniff"
    return read_feed(fmt, response.content, site.config)


def ids(items: Sequence[ItemView]) -> list[str]:
    return [item_id(i.key) for i in items]


def host_of(link: str | None) -> str:
    return (urlsplit(link).hostname or "") if link else ""


def on_site(link: str | None, domain: str) -> bool:
    host = host_of(link)
    return host == domain or host.endswith("." + domain)


def assert_newest_first(feed: Feed) -> None:
    dates = [e.published for e in feed.entries]
    assert dates == sorted(dates, reverse=True)


# -- every route in every format -----------------------------------------------------------------

ROUTES: dict[str, dict[str, Any]] = {
    "/feeds/all": {},
    "/feeds/tag/kubernetes": {"tag": "kubernetes"},
    "/feeds/tag/" + quote(KUBERNETES_JA): {"tag": KUBERNETES_JA},
    "/feeds/site/deeeet.com": {"site": "deeeet.com"},
    "/feeds/k8s-popular": {"tag": "kubernetes", "min_bookmarks": "250"},
    "/feeds/golang-not-docker": {"tag": "golang", "not_tag": "docker"},
    "/feeds/deeeet-popular": {"site": "deeeet.com", "min_bookmarks": "50"},
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("route", list(ROUTES))
def test_every_route_in_every_format(site: Site, route: str, fmt: str) -> None:
    expected = site.expected(ROUTES[route])
    assert expected, "the samples should fill every route"
    feed = fetch_feed(site, f"{route}.{fmt}", fmt)
    assert [e.id for e in feed.entries] == ids(expected)
    assert feed.self_url == f"http://testserver{route}.{fmt}"
    assert_newest_first(feed)


@pytest.mark.parametrize("fmt", FORMATS)
def test_tag_spellings_give_the_same_feed(site: Site, fmt: str) -> None:
    spellings = ["kubernetes", "Kubernetes", "k8s", quote("ＫＵＢＥＲＮＥＴＥＳ"), "KUBE"]
    feeds = [fetch_feed(site, f"/feeds/tag/{s}.{fmt}", fmt) for s in spellings]
    expected = ids(site.expected({"tag": "kubernetes"}))
    for feed in feeds:
        assert [e.id for e in feed.entries] == expected
        assert all("kubernetes" in e.tags for e in feed.entries)
    if fmt == "atom":
        assert len({f.id for f in feeds}) == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_percent_encoded_japanese_tag(site: Site, fmt: str) -> None:
    url = "/feeds/tag/%E6%A9%9F%E6%A2%B0%E5%AD%A6%E7%BF%92." + fmt
    feed = fetch_feed(site, url, fmt)
    assert feed.entries
    assert all(KUBERNETES_JA in e.tags for e in feed.entries)
    assert [e.id for e in feed.entries] == ids(site.expected({"tag": KUBERNETES_JA}))
    assert feed.self_url == "http://testserver" + url


@pytest.mark.parametrize("fmt", FORMATS)
def test_site_feed_holds_the_host_and_its_subdomains_only(site: Site, fmt: str) -> None:
    feed = fetch_feed(site, f"/feeds/site/deeeet.com.{fmt}?limit=500", fmt)
    hosts = {host_of(e.link) for e in feed.entries}
    assert {"deeeet.com", "blog.deeeet.com", "www.deeeet.com"} <= hosts
    assert all(on_site(e.link, "deeeet.com") for e in feed.entries), hosts
    everything = fetch_feed(site, f"/feeds/all.{fmt}?limit=500", fmt)
    assert {"notdeeeet.com", "deeeet.com.evil.example"} <= {host_of(e.link) for e in everything.entries}
    assert len(feed.entries) == sum(on_site(e.link, "deeeet.com") for e in everything.entries)
    for spelling in ("Deeeet.COM", "www.deeeet.com", "deeeet.com."):
        again = fetch_feed(site, f"/feeds/site/{spelling}.{fmt}?limit=500", fmt)
        assert [e.id for e in again.entries] == [e.id for e in feed.entries]


@pytest.mark.parametrize("fmt", FORMATS)
def test_site_feed_combines_with_a_tag(site: Site, fmt: str) -> None:
    feed = fetch_feed(site, f"/feeds/site/deeeet.com.{fmt}?tag=kubernetes", fmt)
    whole = fetch_feed(site, f"/feeds/site/deeeet.com.{fmt}", fmt)
    assert feed.entries and len(feed.entries) < len(whole.entries)
    assert all(on_site(e.link, "deeeet.com") and "kubernetes" in e.tags for e in feed.entries)
    assert [e.id for e in feed.entries] == ids(site.expected({"site": "deeeet.com", "tag": "kubernetes"}))


@pytest.mark.parametrize("fmt", FORMATS)
def test_named_outputs_hold_exactly_their_filter(site: Site, fmt: str) -> None:
    popular = fetch_feed(site, f"/feeds/k8s-popular.{fmt}?ext=1", fmt)  # ext=1: bookmark counts
    assert popular.entries
    for e in popular.entries:
        assert "kubernetes" in e.tags and e.bookmarks is not None and e.bookmarks >= 250
    assert [e.id for e in popular.entries] == ids(site.expected({"tag": "kubernetes", "min_bookmarks": 250}))
    every_k8s = fetch_feed(site, f"/feeds/tag/kubernetes.{fmt}?ext=1", fmt).entries
    assert {e.id for e in popular.entries} == {
        e.id for e in every_k8s if e.bookmarks is not None and e.bookmarks >= 250
    }

    go = fetch_feed(site, f"/feeds/golang-not-docker.{fmt}", fmt)
    assert go.entries
    assert all("golang" in e.tags and "docker" not in e.tags for e in go.entries)
    assert [e.id for e in go.entries] == ids(site.expected({"tag": "golang", "not_tag": "docker"}))
    every_go = fetch_feed(site, f"/feeds/tag/golang.{fmt}", fmt).entries
    assert any("docker" in e.tags for e in every_go), "the samples hold Go posts tagged docker"
    assert {e.id for e in go.entries} == {e.id for e in every_go if "docker" not in e.tags}


def test_named_output_narrows_further_with_the_query(site: Site) -> None:
    feed = fetch_feed(site, "/feeds/k8s-popular.atom?min_bookmarks=500&site=deeeet.com&ext=1", "atom")
    assert feed.entries
    assert all(e.bookmarks and e.bookmarks >= 500 and on_site(e.link, "deeeet.com") for e in feed.entries)
    expected = site.expected({"tag": "kubernetes", "min_bookmarks": 500, "site": "deeeet.com"})
    assert [e.id for e in feed.entries] == ids(expected)
    # the route's own bound is kept when the query asks for less
    loose = fetch_feed(site, "/feeds/k8s-popular.atom?min_bookmarks=1&ext=1", "atom")
    assert all(e.bookmarks and e.bookmarks >= 250 for e in loose.entries)


# -- the filter vocabulary -----------------------------------------------------------------------


def _check(params: dict[str, Any], entry: Entry, site: Site) -> None:
    tags = [site.config.normalize(t) for t in _values(params, "tag")]
    assert all(t in entry.tags for t in tags)
    any_tags = [site.config.normalize(t) for t in _values(params, "any_tag")]
    assert not any_tags or any(t in entry.tags for t in any_tags)
    assert not any(site.config.normalize(t) in entry.tags for t in _values(params, "not_tag"))
    if "site" in params:
        assert on_site(entry.link, params["site"])
    if int(params.get("min_bookmarks", 0)):
        assert entry.bookmarks is not None and entry.bookmarks >= int(params["min_bookmarks"])
    if "since" in params:
        assert entry.published >= _when(params["since"])
    if "until" in params:
        assert entry.published < _when(params["until"])


def _values(params: dict[str, Any], name: str) -> list[str]:
    value = params.get(name, [])
    return [value] if isinstance(value, str) else list(value)


def _when(value: str) -> datetime:
    if value.endswith("d"):
        return NOW - timedelta(days=int(value[:-1]))
    if len(value) == 10:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


FILTER_CASES: list[dict[str, Any]] = [
    {"tag": "kubernetes"},
    {"tag": ["kubernetes", "docker"]},
    {"tag": ["Kubernetes", "K8s"]},
    {"any_tag": ["docker", KUBERNETES_JA]},
    {"not_tag": "kubernetes"},
    {"not_tag": ["kubernetes", "golang", "docker"]},
    {"any_tag": ["golang", "docker"], "not_tag": "kubernetes"},
    {"site": "deeeet.com"},
    {"site": "kubernetes.io"},
    {"q": "Kubernetes"},
    {"q": "kubernetes"},
    {"q": "マイクロサービス"},
    {"q": "100%_"},
    {"since": "2020-01-01"},
    {"until": "2020-01-01"},
    {"since": "2018-01-01", "until": "2019-12-31T00:00:00Z"},
    {"since": "30d"},
    {"since": "400d"},
    {"min_bookmarks": "300"},
    {"min_bookmarks": "0"},
    {"limit": "3"},
    {"limit": "500"},
    {"tag": "kubernetes", "min_bookmarks": "200", "since": "2018-01-01", "limit": "5"},
    {"tag": "golang", "site": "deeeet.com", "q": "go", "until": "2016-01-01"},
    {"any_tag": ["sre", "docker"], "not_tag": "golang", "min_bookmarks": "100", "limit": "4"},
]


def _query(params: dict[str, Any]) -> str:
    return "&".join(f"{k}={quote(v)}" for k in params for v in _values(params, k))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("params", FILTER_CASES, ids=_query)
def test_every_filter_parameter(site: Site, params: dict[str, Any], fmt: str) -> None:
    expected = site.expected({"limit": "500", **params} if "limit" not in params else params)
    url = f"/feeds/all.{fmt}?{_query(params)}"
    if "limit" not in params:
        url += "&limit=500"
    if "min_bookmarks" in params:
        url += "&ext=1"  # bookmark counts are extension data
    feed = fetch_feed(site, url, fmt)
    assert [e.id for e in feed.entries] == ids(expected)
    assert feed.self_url == "http://testserver" + url
    assert_newest_first(feed)
    for entry in feed.entries:
        _check(params, entry, site)
    if "q" in params:
        needle = params["q"].lower()
        assert all(needle in (i.title + (i.summary or "")).lower() for i in expected)


def test_filters_actually_narrow(site: Site) -> None:
    def count(query: str) -> int:
        return len(fetch_feed(site, f"/feeds/all.json?limit=500&{query}", "json").entries)

    total = count("")
    assert total > 40
    for query in (
        "tag=kubernetes",
        "not_tag=kubernetes",
        "site=deeeet.com",
        "q=Kubernetes",
        "since=2020-01-01",
        "until=2020-01-01",
        "min_bookmarks=300",
        "since=30d",
    ):
        assert 0 < count(query) < total, query
    assert count("tag=kubernetes") + count("not_tag=kubernetes") == total
    assert count("since=2020-01-01") + count("until=2020-01-01") == total
    assert len(fetch_feed(site, "/feeds/all.json?limit=3", "json").entries) == 3


def test_limit_keeps_the_newest(site: Site) -> None:
    everything = fetch_feed(site, "/feeds/all.json?limit=500", "json").entries
    first = fetch_feed(site, "/feeds/all.json?limit=7", "json").entries
    assert first == everything[:7]
    default = fetch_feed(site, "/feeds/all.json", "json").entries
    assert default == everything[:50]


@pytest.mark.parametrize("by", ["id", "url"])
def test_source_filter_by_id_and_url(site: Site, by: str) -> None:
    sid = site.source_id("hatena-tag-kubernetes.rdf")
    url = next(s.url for s in site.config.sources if s.url.endswith("/hatena-tag-kubernetes.rdf"))
    value = str(sid) if by == "id" else url
    response = site.client.get("/api/items", params={"source": value, "limit": 500})
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 10
    assert all(any(s["id"] == sid for s in i["sources"]) for i in items)
    feed = fetch_feed(site, f"/feeds/all.atom?source={quote(value, safe='')}&limit=500", "atom")
    assert [e.id for e in feed.entries] == ids(site.expected({"source": value, "limit": 500}))
    both = site.client.get(
        "/api/items",
        params=[
            ("source", str(sid)),
            ("source", str(site.source_id("hatena-tag-docker.rdf"))),
            ("limit", "500"),
        ],
    ).json()["items"]
    assert len(both) > len(items)


def test_self_link_is_the_exact_request_url(site: Site) -> None:
    for url in (
        "/feeds/tag/kubernetes.atom?min_bookmarks=100&tag=docker",
        "/feeds/tag/kubernetes.atom?tag=docker&min_bookmarks=100",
        "/feeds/all.rss?q=%E3%83%9E%E3%82%A4%E3%82%AF%E3%83%AD&limit=2",
        "/feeds/k8s-popular.json?since=2019-01-01",
        "/feeds/tag/%E6%A9%9F%E6%A2%B0%E5%AD%A6%E7%BF%92.atom?limit=5",
        "/feeds/tag/machine%20learning.atom",
        "/feeds/tag/c%23.rss?q=%23",
        "/feeds/tag/why%3F.json",
        "/feeds/site/deeeet.com.atom?q=%E3%81%82+b",
    ):
        fmt = url.split("?")[0].rsplit(".", 1)[1]
        assert fetch_feed(site, url, fmt).self_url == "http://testserver" + url


def test_feed_id_is_stable_per_url(site: Site) -> None:
    def feed_id(url: str, client: TestClient | None = None) -> str | None:
        response = (client or site.client).get(url)
        return read_feed("atom", response.content, site.config).id

    a = feed_id("/feeds/tag/kubernetes.atom?min_bookmarks=100")
    assert a == feed_id("/feeds/tag/kubernetes.atom?min_bookmarks=100")
    assert a == feed_id("/feeds/tag/K8s.atom?min_bookmarks=100")
    with client_for(site.engine, site.config, NOW + timedelta(days=3)) as later:
        assert a == feed_id("/feeds/tag/kubernetes.atom?min_bookmarks=100", later)
    ids_seen = {
        feed_id(u)
        for u in (
            "/feeds/all.atom",
            "/feeds/tag/kubernetes.atom",
            "/feeds/tag/kubernetes.atom?min_bookmarks=100",
            "/feeds/tag/kubernetes.atom?min_bookmarks=101",
            "/feeds/site/deeeet.com.atom",
            "/feeds/k8s-popular.atom",
        )
    }
    assert len(ids_seen) == 6


def test_feed_id_of_a_relative_window_does_not_move_with_the_clock(site: Site) -> None:
    url = "/feeds/tag/kubernetes.atom?since=7d"
    seen = set()
    for days in (0, 1, 30):
        with client_for(site.engine, site.config, NOW + timedelta(days=days, seconds=days)) as client:
            seen.add(read_feed("atom", client.get(url).content, site.config).id)
    assert len(seen) == 1


# -- empty and unknown ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "url",
    [
        "/feeds/all.{fmt}?q=no-such-words-anywhere",
        "/feeds/tag/no-such-tag.{fmt}",
        "/feeds/tag/kubernetes.{fmt}?not_tag=kubernetes",
        "/feeds/site/nowhere.invalid.{fmt}",
        "/feeds/all.{fmt}?source=999999",
        "/feeds/k8s-popular.{fmt}?until=1990-01-01",
    ],
)
def test_empty_slices_are_valid_empty_feeds(site: Site, url: str, fmt: str) -> None:
    response = site.client.get(url.format(fmt=fmt))
    assert response.status_code == 200
    assert response.headers["content-type"] == MEDIA[fmt]
    assert response.headers["etag"].startswith('"')
    feed = read_feed(fmt, response.content, site.config)
    assert feed.entries == []


@pytest.mark.parametrize(
    "url",
    ["/feeds/no-such-output.atom", "/feeds/no-such-output.json", "/feeds/K8S-POPULAR.atom"],
)
def test_unknown_slug_is_404_json(site: Site, url: str) -> None:
    response = site.client.get(url)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "url",
    [
        "/feeds/all.xml",
        "/feeds/all.html",
        "/feeds/tag/kubernetes.rdf",
        "/feeds/site/deeeet.com.txt",
        "/feeds/k8s-popular.atom2",
        "/feeds/all.",
        "/feeds/all",
        "/feeds/tag/kubernetes",
    ],
)
def test_unknown_extension_is_404(site: Site, url: str) -> None:
    response = site.client.get(url)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert "error" in response.json()


# -- HTTP caching --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("route", list(ROUTES))
def test_every_feed_carries_validators(site: Site, route: str, fmt: str) -> None:
    response = site.client.get(f"{route}.{fmt}")
    etag = response.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2
    modified = parsedate_to_datetime(response.headers["last-modified"])
    assert modified.tzinfo is not None
    assert "max-age=" in response.headers["cache-control"]
    again = site.client.get(f"{route}.{fmt}")
    assert again.headers["etag"] == etag and again.content == response.content


def test_etags_differ_between_slices_and_formats(site: Site) -> None:
    urls = [f"{r}.{f}" for r in ROUTES for f in FORMATS] + ["/feeds/all.atom?limit=3"]
    etags = [site.client.get(u).headers["etag"] for u in urls]
    assert len(set(etags)) == len(etags)


@pytest.mark.parametrize("fmt", FORMATS)
def test_if_none_match_gives_304(site: Site, fmt: str) -> None:
    url = f"/feeds/tag/kubernetes.{fmt}?min_bookmarks=10"
    first = site.client.get(url)
    etag = first.headers["etag"]
    for header in (etag, f"W/{etag}", f'"nope", {etag}', f'"a","b" , {etag}', "*"):
        response = site.client.get(url, headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["last-modified"] == first.headers["last-modified"]
    stale = site.client.get(url, headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.content == first.content


def test_if_modified_since_without_if_none_match(site: Site) -> None:
    url = "/feeds/site/deeeet.com.rss"
    first = site.client.get(url)
    modified = parsedate_to_datetime(first.headers["last-modified"])
    same = site.client.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert same.status_code == 304 and same.content == b""
    later = format_datetime(modified + timedelta(days=1), usegmt=True)
    assert site.client.get(url, headers={"If-Modified-Since": later}).status_code == 304
    earlier = format_datetime(modified - timedelta(seconds=1), usegmt=True)
    assert site.client.get(url, headers={"If-Modified-Since": earlier}).status_code == 200
    assert site.client.get(url, headers={"If-Modified-Since": "yesterday"}).status_code == 200
    # If-None-Match wins over If-Modified-Since
    both = site.client.get(
        url, headers={"If-None-Match": '"other"', "If-Modified-Since": first.headers["last-modified"]}
    )
    assert both.status_code == 200 and both.content == first.content


@pytest.mark.parametrize("fmt", FORMATS)
def test_head_gives_headers_without_a_body(site: Site, fmt: str) -> None:
    url = f"/feeds/site/deeeet.com.{fmt}?tag=kubernetes"
    get = site.client.get(url)
    head = site.client.head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    for name in ("etag", "last-modified", "content-type", "cache-control", "x-content-type-options"):
        assert head.headers[name] == get.headers[name]
    conditional = site.client.head(url, headers={"If-None-Match": get.headers["etag"]})
    assert conditional.status_code == 304 and conditional.content == b""


def test_304_is_answered_without_rendering(site: Site) -> None:
    cache = site.client.app.state.settings.cache  # type: ignore[attr-defined]
    url = "/feeds/golang-not-docker.rss?limit=4"
    etag = site.client.get(url).headers["etag"]
    renders = cache.renders
    for _ in range(3):
        assert site.client.get(url, headers={"If-None-Match": etag}).status_code == 304
        assert site.client.head(url, headers={"If-None-Match": etag}).status_code == 304
    assert cache.renders == renders


def _rdf_with(extra_item: str, original: bytes) -> bytes:
    text = original.decode("utf-8")
    head, tail = text.rsplit("</rdf:RDF>", 1)
    return (head + extra_item + "</rdf:RDF>" + tail).encode("utf-8")


OLD_K8S_ITEM = """
  <item rdf:about="https://example.org/old-kubernetes-post/">
    <title>An old Kubernetes post, bookmarked today</title>
    <link>https://example.org/old-kubernetes-post/</link>
    <description>Kubernetes before it was cool</description>
    <dc:date>2017-03-01T10:00:00+09:00</dc:date>
    <dc:subject>kubernetes</dc:subject>
    <hatena:bookmarkcount>3</hatena:bookmarkcount>
  </item>
"""


def test_a_poll_moves_exactly_the_etags_of_changed_slices(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'etag.db'}")
    urls = [
        "/feeds/tag/kubernetes.atom",
        "/feeds/tag/kubernetes.json",
        "/feeds/all.atom?limit=500",
        "/feeds/tag/docker.atom",
        "/feeds/tag/golang.rss",
        "/feeds/golang-not-docker.atom",
        "/feeds/site/deeeet.com.json",
    ]
    changed = {"/feeds/tag/kubernetes.atom", "/feeds/tag/kubernetes.json", "/feeds/all.atom?limit=500"}
    try:
        with FeedServer() as srv:
            serve_samples(srv, extras=False)
            config = sample_config(srv.base_url, extras=False)
            poll(engine, config)
            with client_for(engine, config) as client:
                cache = client.app.state.settings.cache  # type: ignore[attr-defined]
                before = {u: client.get(u) for u in urls}

                poll(engine, config)  # nothing changed upstream
                renders = cache.renders
                for u in urls:
                    response = client.get(u, headers={"If-None-Match": before[u].headers["etag"]})
                    assert response.status_code == 304, u
                assert cache.renders == renders

                original = (SAMPLES / "hatena-tag-kubernetes.rdf").read_bytes()
                srv.route(
                    "/hatena-tag-kubernetes.rdf",
                    _rdf_with(OLD_K8S_ITEM, original),
                    content_type=CONTENT_TYPES[".rdf"],
                )
                poll(engine, config)
                after = {u: client.get(u) for u in urls}
                for u in urls:
                    moved = after[u].headers["etag"] != before[u].headers["etag"]
                    assert moved == (u in changed), u
                for u in changed:
                    assert b"An old Kubernetes post" in after[u].content
                    revalidated = client.get(u, headers={"If-None-Match": before[u].headers["etag"]})
                    assert revalidated.status_code == 200
                    assert revalidated.content == after[u].content
                    # a reader that sends only If-Modified-Since must see the change too
                    by_date = client.get(u, headers={"If-Modified-Since": before[u].headers["last-modified"]})
                    assert by_date.status_code == 200, u
                for u in set(urls) - changed:
                    assert after[u].content == before[u].content
                    kept = client.get(u, headers={"If-None-Match": before[u].headers["etag"]})
                    assert kept.status_code == 304
    finally:
        engine.dispose()


# -- bad requests --------------------------------------------------------------------------------


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


BAD_QUERIES = [
    ("limit=abc", "limit"),
    ("limit=1000000000", "limit"),
    ("limit=99999999999999999999999", "limit"),
    ("limit=0", "limit"),
    ("limit=501", "limit"),
    ("limit=-1", "limit"),
    ("limit=1&limit=2", "limit"),
    ("since=yesterday", "since"),
    ("since=2024-02-30", "since"),
    ("since=9999999d", "since"),
    ("since=999999w", "since"),
    ("since=0001-01-01T00:00:00%2B14:00", "since"),
    ("until=9999-12-31T23:59:59-01:00", "until"),
    ("until=2024-01-01&until=2024-02-01", "until"),
    ("min_bookmarks=-1", "min_bookmarks"),
    ("min_bookmarks=many", "min_bookmarks"),
    ("min_bookmarks=1.5", "min_bookmarks"),
    ("tag=" + "k" * 101, "tag"),
    ("tag=", "tag"),
    ("tag=%00", "tag"),
    ("any_tag=%20", "any_tag"),
    ("not_tag=" + "x" * 500, "not_tag"),
    ("q=" + "q" * 201, "q"),
    ("q=a&q=b", "q"),
    ("site=a&site=b", "site"),
    ("site=not%20a%20host", "site"),
    ("site=", "site"),
    ("source=ftp://example.org/feed", "source"),
    ("source=" + "9" * 13, "source"),
    ("tags=x", "tags"),
    ("format=atom", "format"),
    ("cursor=abc", "cursor"),
    ("&".join(f"tag=t{i}" for i in range(21)), "tag"),
]

API_ONLY_BAD = [
    ("cursor=!!!", "cursor"),
    ("cursor=", "cursor"),
    ("cursor=a&cursor=b", "cursor"),
    ("cursor=" + _cursor("not a cursor"), "cursor"),
    ("cursor=" + _cursor("2024-01-01T00:00:00.000000|x"), "cursor"),
    ("cursor=" + _cursor("2024-13-01T00:00:00.000000|5"), "cursor"),
    ("cursor=" + _cursor("2024-01-01T00:00:00.000000|99999999999999999999999"), "cursor"),
    ("cursor=" + _cursor("2024-01-01T00:00:00.000000|-99999999999999999999"), "cursor"),
]


def assert_bad_request(response: Any, param: str) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["parameter"] == param
    assert isinstance(body["message"], str) and body["message"]
    for marker in ("Traceback", 'File "', "Error(", "sqlalchemy", "sqlite3"):
        assert marker not in response.text


@pytest.mark.parametrize(("query", "param"), BAD_QUERIES, ids=[q[:40] for q, _ in BAD_QUERIES])
@pytest.mark.parametrize("path", ["/feeds/all.atom", "/feeds/tag/kubernetes.rss", "/feeds/k8s-popular.json"])
def test_bad_feed_parameters_are_4xx_json(site: Site, path: str, query: str, param: str) -> None:
    assert_bad_request(site.client.get(f"{path}?{query}"), param)


@pytest.mark.parametrize(
    ("query", "param"),
    [q for q in BAD_QUERIES if q[1] != "cursor"] + API_ONLY_BAD,
    ids=[q[:40] for q, _ in [q for q in BAD_QUERIES if q[1] != "cursor"] + API_ONLY_BAD],
)
def test_bad_api_parameters_are_4xx_json(site: Site, query: str, param: str) -> None:
    assert_bad_request(site.client.get(f"/api/items?{query}"), param)


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/feeds/tag/" + "t" * 201 + ".atom", "tag"),
        ("/feeds/tag/%20%20.atom", "tag"),
        ("/feeds/tag/a%00b.rss", "tag"),
        ("/feeds/tag/..%5Cx.json", "tag"),
        ("/feeds/site/" + "h" * 201 + ".atom", "host"),
        ("/feeds/site/a..b.atom", "host"),
        ("/feeds/site/not%20a%20host.atom", "host"),
        ("/feeds/site/%3Cscript%3E.atom", "host"),
        ("/feeds/site/xn--.rss", "host"),
    ],
)
def test_bad_path_values_are_4xx_json(site: Site, path: str, param: str) -> None:
    assert_bad_request(site.client.get(path), param)


_ANY_VALUE = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"-?\d{1,25}[mhdw]?", fullmatch=True),
    st.from_regex(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})?)?", fullmatch=True),
    st.sampled_from(["", " ", "%", "_", "\\", "..", "k8s", KUBERNETES_JA, "https://deeeet.com/"]),
)
_ANY_NAME = st.sampled_from([*FILTER_NAMES, "cursor", "tags", "format"])


@settings(max_examples=250, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from(
        ["/feeds/all.atom", "/feeds/tag/k8s.rss", "/feeds/site/deeeet.com.json", "/api/items", "/tag/go"]
    ),
    params=st.lists(st.tuples(_ANY_NAME, _ANY_VALUE), max_size=6),
)
def test_any_query_is_answered_200_or_422(site: Site, path: str, params: list[tuple[str, str]]) -> None:
    response = site.client.get(path, params=params)
    assert response.status_code in (200, 422), (path, params, response.text[:300])
    if response.status_code == 422 and not path.startswith("/tag/"):
        assert response.json()["parameter"] in {name for name, _ in params} | {"query"}


def test_bad_parameters_on_html_pages_are_4xx_html(site: Site) -> None:
    for url in ("/tag/kubernetes?limit=abc", "/site/deeeet.com?tags=x", "/tag/" + "t" * 201):
        response = site.client.get(url)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("text/html")
        assert "Traceback" not in response.text
        assert_safe_html(response.text, where=url)


def test_huge_cursor_is_rejected_on_postgres_too(engine: Engine) -> None:
    with client_for(engine, parse_config({})) as client:
        big = _cursor("2024-01-01T00:00:00.000000|99999999999999999999999")
        assert_bad_request(client.get(f"/api/items?cursor={big}"), "cursor")
        assert_bad_request(client.get("/api/items?until=9999-12-31T23:59:59-01:00"), "until")


# -- hostile input never reaches the output ------------------------------------------------------

HOSTILE_ROUTES = [
    "/feeds/all",
    "/feeds/tag/hostile",
    "/feeds/tag/kubernetes",
    "/feeds/site/hostile.example",
    "/feeds/all?q=hostile",
    "/feeds/tag/hostile?ext=1",
]


def _url_ok(value: str | None, where: str) -> None:
    if value:
        assert_safe_url(value, where=where)


def _safe_atom(body: bytes) -> int:
    root = etree.fromstring(body, XML)
    for text_field in root.xpath("//a:title | //a:subtitle | //a:summary | //a:content", namespaces=NS):
        kind = text_field.get("type", "text")
        assert kind in ("text", "html"), kind
        assert_safe_html(text_field.text or "", where=f"atom {text_field.tag}")
    for href in root.xpath("//a:link/@href | //a:source/a:id/text()", namespaces=NS):
        assert_safe_url(str(href), where="atom link")
    for name in root.xpath("//a:author/a:name/text()", namespaces=NS):
        assert_safe_html(str(name), where="atom author")
    for term in root.xpath("//a:category/@term | //a:category/@label", namespaces=NS):
        assert_safe_html(str(term), where="atom category")
    parsed = feedparser.parse(body, sanitize_html=False)
    for entry in parsed.entries:
        for block in entry.get("content", []):
            assert_safe_html(block.value, where="atom content (feedparser)")
        assert_safe_html(entry.get("summary", ""), where="atom summary (feedparser)")
    return len(root.findall("a:entry", NS))


def _safe_rss(body: bytes) -> int:
    root = etree.fromstring(body, XML)
    for item in root.iter("item", "channel"):
        for tag in ("title", "description", "category", "{http://purl.org/dc/elements/1.1/}creator"):
            for element in item.findall(tag):
                assert_safe_html(element.text or "", where=f"rss {tag}")
        for element in item.findall("content:encoded", NS):
            assert_safe_html(element.text or "", where="rss content:encoded")
        _url_ok(item.findtext("link"), "rss link")
        for enclosure in item.findall("enclosure"):
            assert_safe_url(enclosure.get("url", ""), where="rss enclosure")
        for source in item.findall("source"):
            assert_safe_url(source.get("url", ""), where="rss source")
    return len(root.findall("channel/item"))


def _safe_json(body: bytes) -> int:
    doc = json.loads(body)
    for key in ("home_page_url", "feed_url"):
        _url_ok(doc.get(key), f"json {key}")
    assert_safe_html(doc["title"], where="json feed title")
    for item in doc["items"]:
        # summary and content_text are plain text in JSON Feed 1.1, never read as markup
        for key in ("content_html", "title"):
            assert_safe_html(item.get(key) or "", where=f"json {key}")
        for key in ("url", "external_url", "image", "banner_image"):
            _url_ok(item.get(key), f"json {key}")
        for attachment in item.get("attachments", []):
            assert_safe_url(attachment["url"], where="json attachment")
        for author in item.get("authors", []):
            assert_safe_html(author.get("name", ""), where="json author")
        for tag in item.get("tags", []):
            assert_safe_html(tag, where="json tag")
        for source in item.get("_aggregator", {}).get("sources", []):
            _url_ok(source["url"], "json source url")
            for key in ("title", "user", "comment"):
                assert_safe_html(source[key] or "", where=f"json source {key}")
    return len(doc["items"])


SAFE_READERS = {"atom": _safe_atom, "rss": _safe_rss, "json": _safe_json}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("route", HOSTILE_ROUTES)
def test_hostile_markup_never_reaches_feeds(site: Site, route: str, fmt: str) -> None:
    path, _, query = route.partition("?")
    url = f"{path}.{fmt}?limit=500" + (f"&{query}" if query else "")
    response = site.client.get(url)
    assert response.status_code == 200
    read_feed(fmt, response.content, site.config)
    assert SAFE_READERS[fmt](response.content) > 0
    if fmt != "json":
        assert b"<script" not in response.content.lower()


def test_hostile_items_were_ingested(site: Site) -> None:
    feed = fetch_feed(site, "/feeds/tag/hostile.json?limit=500", "json")
    titles = " ".join(e.title for e in feed.entries)
    assert len(feed.entries) >= 6, titles
    for word in ("Hostile one", "Hostile two", "Hostile three", "JSON hostile one", "JSON hostile two"):
        assert word in titles
    links = {e.link for e in feed.entries}
    assert "https://hostile.example/posts/1" in links
    assert not any(link and not link.startswith("https://") for link in links)
    item = site.client.get("/api/items", params={"tag": "hostile", "limit": 500}).json()["items"]
    assert any(s["user"] and "mallory" in s["user"] for i in item for s in i["sources"])


def test_hostile_markup_never_reaches_api_json(site: Site) -> None:
    items = site.client.get("/api/items", params={"tag": "hostile", "limit": 500}).json()["items"]
    assert items
    for item in items:
        for key in ("summary", "content", "title", "author"):
            assert_safe_html(item[key] or "", where=f"api {key}")
        for key in ("link", "image"):
            _url_ok(item[key], f"api {key}")
        for tag in item["tags"]:
            assert_safe_html(tag, where="api tag")
        for source in item["sources"]:
            for key in ("user", "comment", "title"):
                assert_safe_html(source[key] or "", where=f"api source {key}")
    for tag in site.client.get("/api/tags").json():
        assert_safe_html(tag["display"], where="api tags")
    sources = site.client.get("/api/sources").json()
    hostile = next(s for s in sources if s["url"].endswith("/hostile.rss"))
    assert "Hostile" in hostile["title"]
    for source in sources:
        assert_safe_html(source["title"], where="api source title")
        assert_safe_html(source["last_error"] or "", where="api source error")


@pytest.mark.parametrize(
    "url", ["/", "/tag/hostile", "/tag/kubernetes", "/site/hostile.example", "/site/deeeet.com?tag=hostile"]
)
def test_hostile_markup_never_reaches_pages(site: Site, url: str) -> None:
    response = site.client.get(url)
    assert response.status_code == 200
    assert_safe_html(response.text, where=url)
    assert "<script" not in response.text.lower()


# -- JSON API ------------------------------------------------------------------------------------


def _walk(site: Site, params: dict[str, Any], page: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = {**params, "limit": page} | ({"cursor": cursor} if cursor else {})
        response = site.client.get("/api/items", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= page
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
        assert len(body["items"]) == page
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize("page", [1, 7, 50])
@pytest.mark.parametrize(
    "params", [{}, {"tag": "kubernetes"}, {"site": "deeeet.com", "min_bookmarks": "100"}]
)
def test_cursor_pagination_walks_every_item_once(site: Site, params: dict[str, Any], page: int) -> None:
    walked = _walk(site, params, page)
    everything = site.client.get("/api/items", params={**params, "limit": 500}).json()["items"]
    assert [i["id"] for i in walked] == [i["id"] for i in everything]
    assert len({i["id"] for i in walked}) == len(walked)
    assert [i["id"] for i in everything] == [i.id for i in site.expected({**params, "limit": 500})]
    keys = [(i["published"], i["id"]) for i in walked]
    assert keys == sorted(keys, reverse=True)


def test_api_items_uses_the_same_filters(site: Site) -> None:
    response = site.client.get(
        "/api/items",
        params=[("tag", "k8s"), ("not_tag", "docker"), ("since", "2018-01-01"), ("limit", "500")],
    )
    body = response.json()
    assert body["filter"] == "tag=kubernetes&not_tag=docker&since=2018-01-01T00%3A00%3A00Z&limit=500"
    expected = site.expected({"tag": "kubernetes", "not_tag": "docker", "since": "2018-01-01", "limit": 500})
    assert [i["id"] for i in body["items"]] == [i.id for i in expected]
    for item in body["items"]:
        names = {site.config.normalize(t) for t in item["tags"]}
        assert "kubernetes" in names and "docker" not in names
        assert datetime.fromisoformat(item["published"]) >= datetime(2018, 1, 1, tzinfo=UTC)


def test_api_tags_counts_match_the_items(site: Site) -> None:
    tags = site.client.get("/api/tags").json()
    assert tags
    with site.engine.connect() as conn:
        assert [(t.name, t.count) for t in tag_counts(conn, limit=1000)] == [
            (t["name"], t["count"]) for t in tags
        ]
    counts = [t["count"] for t in tags]
    assert counts == sorted(counts, reverse=True)
    by_name = {t["name"]: t for t in tags}
    assert by_name["kubernetes"]["display"].casefold() == "kubernetes"
    assert by_name[KUBERNETES_JA]["feed"] == "/feeds/tag/" + quote(KUBERNETES_JA) + ".atom"
    for tag in [*tags[:12], by_name[KUBERNETES_JA]]:
        items = site.client.get("/api/items", params={"tag": tag["name"], "limit": 500}).json()["items"]
        assert len(items) == tag["count"], tag
        feed = site.client.get(tag["feed"])
        assert feed.status_code == 200
        assert len(read_feed("atom", feed.content, site.config).entries) == min(tag["count"], 50)


def test_api_sources_report_health(site: Site) -> None:
    rows = {r["url"].rsplit("/", 1)[-1]: r for r in site.client.get("/api/sources").json()}
    assert set(rows) == {s.url.rsplit("/", 1)[-1] for s in site.config.sources}
    broken = rows.pop("broken.xml")
    assert broken["last_status"] == "error"
    assert broken["error_category"] == "not_a_feed"
    assert broken["last_error"] and "feed" in broken["last_error"]
    assert broken["consecutive_errors"] == 1
    assert broken["items"] == 0 and broken["next_poll_at"]
    assert broken["title"] == "Broken source (demo)"
    for name, row in rows.items():
        assert row["last_status"] in ("new", "updated", "unchanged"), name
        assert row["last_http_status"] == 200
        assert row["error_category"] is None and row["last_error"] is None
        assert row["items"] > 0, name
        polled = datetime.fromisoformat(row["last_polled_at"])
        assert datetime.fromisoformat(row["next_poll_at"]) > polled
    assert rows["hatena-tag-kubernetes.rdf"]["title"] == "はてなブックマーク: kubernetes タグ"
    assert rows["hatena-tag-kubernetes.rdf"]["kind"] == "tag"


def test_healthz_docs_and_openapi(site: Site) -> None:
    health = site.client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = site.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"
    assert ready.json()["data_version"] > 0  # the samples were polled into it
    docs = site.client.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    schema = site.client.get("/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))
    for path in (
        "/feeds/all.{ext}",
        "/feeds/tag/{tag}.{ext}",
        "/feeds/site/{host}.{ext}",
        "/feeds/{slug}.{ext}",
        "/api/items",
        "/api/tags",
        "/api/sources",
        "/healthz",
        "/readyz",
    ):
        assert path in paths


# -- the same on PostgreSQL ----------------------------------------------------------------------


def test_representative_routes_on_each_database(engine: Engine) -> None:
    with FeedServer() as srv:
        serve_samples(srv)
        config = sample_config(srv.base_url)
        poll(engine, config)
    with client_for(engine, config) as client:
        site = Site(engine, config, client)
        for route, params in [
            ("/feeds/tag/k8s", {"tag": "kubernetes"}),
            ("/feeds/tag/" + quote(KUBERNETES_JA), {"tag": KUBERNETES_JA}),
            ("/feeds/k8s-popular", {"tag": "kubernetes", "min_bookmarks": 250}),
            ("/feeds/golang-not-docker", {"tag": "golang", "not_tag": "docker"}),
        ]:
            expected = ids(site.expected(params))
            assert expected
            for fmt in FORMATS:
                assert [e.id for e in fetch_feed(site, f"{route}.{fmt}", fmt).entries] == expected
        sub = fetch_feed(
            site, "/feeds/site/deeeet.com.atom?tag=kubernetes&q=kubernetes&since=2016-01-01", "atom"
        )
        assert sub.entries and all(on_site(e.link, "deeeet.com") for e in sub.entries)
        everything = fetch_feed(site, "/feeds/all.json?limit=500", "json").entries
        assert {"blog.deeeet.com", "notdeeeet.com"} <= {host_of(e.link) for e in everything}
        assert all(
            on_site(e.link, "deeeet.com")
            for e in fetch_feed(site, "/feeds/site/deeeet.com.json?limit=500", "json").entries
        )
        first = client.get("/feeds/tag/kubernetes.atom")
        again = client.get("/feeds/tag/kubernetes.atom", headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        assert [i["id"] for i in _walk(site, {"any_tag": ["docker", "golang"]}, 4)] == [
            i.id for i in site.expected({"any_tag": ["docker", "golang"], "limit": 500})
        ]
        assert_bad_request(client.get("/api/items?limit=abc"), "limit")
        for route in HOSTILE_ROUTES[:2]:
            for fmt in FORMATS:
                path, _, query = route.partition("?")
                assert SAFE_READERS[fmt](client.get(f"{path}.{fmt}?{query}").content) > 0
