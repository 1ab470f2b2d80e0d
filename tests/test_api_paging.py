"""Paged feeds (RFC 5005 section 3) on both databases: every feed links ``next`` to
the next older page while there is one; following it from the first page meets
every item of the slice once, newest first, while new items keep arriving; a
page's cursor is part of its URL, its ETag and its cache entry; a bad cursor is
a 422 naming ``before``. Pages are read back with feedparser and lxml (Atom
also against the RFC 4287 schema) and JSON Feed as JSON."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from feedcheck import parse_back, validate_atom
from lxml import etree
from sqlalchemy import select
from sqlalchemy.engine import Engine
from test_api import FORMATS, NS, XML, TestClient, assert_bad_request, client_for
from test_store import entry, setup_sources, write

from aggregator.config import parse_config
from aggregator.ingest import SourceInfo
from aggregator.models import Item, table_of
from aggregator.render import item_id

ITEM = table_of(Item)
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
FEED_URL = "https://example.org/feed.xml"
OUTPUTS = [{"slug": "golang", "title": "Go posts", "tag": ["golang"]}]
# version_interval 0: every request sees the writes before it (PostgreSQL too)
CONFIG = parse_config({"sources": [{"url": FEED_URL}], "outputs": OUTPUTS, "server": {"version_interval": 0}})
OLDEST = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class Items:
    """Items the test writes through one source, and what it knows of each: its link and date."""

    engine: Engine
    source: SourceInfo
    published: dict[str, datetime] = field(default_factory=dict)  # by link
    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    count: int = 0

    def add(
        self,
        published: list[datetime],
        tags: Callable[[int], tuple[str, ...]] = lambda n: ("kubernetes",),
        *,
        seen: datetime = NOW,
        title: Callable[[int], str] = lambda n: f"Post {n}",
    ) -> list[str]:
        """Write one item per date (first stored at ``seen``); their links, in that order."""
        links, entries = [], []
        for when in published:
            n = self.count
            self.count += 1
            link = f"https://example.org/posts/{n}"
            links.append(link)
            self.published[link], self.tags[link] = when, tags(n)
            entries.append(entry(link, title(n), when, tags=tags(n)))
        write(self.engine, self.source, entries, seen)
        return links

    def newest_first(self, links: list[str]) -> list[str]:
        """The public ids of ``links`` newest first: by date, then by the id the database gave."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(ITEM.c.link, ITEM.c.id, ITEM.c.key).where(ITEM.c.link.in_(links)))
            known = {link: (ident, key) for link, ident, key in rows}
        ordered = sorted(links, key=lambda link: (self.published[link], known[link][0]), reverse=True)
        return [item_id(known[link][1]) for link in ordered]


@pytest.fixture
def items(engine: Engine) -> Items:
    source = setup_sources(engine, *CONFIG.sources)[FEED_URL]
    return Items(engine, source)


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with client_for(engine, CONFIG, NOW) as c:
        yield c


def spread(count: int, start: datetime = OLDEST, step: timedelta = timedelta(hours=5)) -> list[datetime]:
    """``count`` dates from ``start`` on, every third one the same as the one before it (ties)."""
    return [start + step * (n - n // 3) for n in range(count)]


# -- reading a page back -------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    ids: list[str]
    links: dict[str, str]  # feed-level links by rel (self, alternate and the WebSub hub left out)


def read_page(fmt: str, body: bytes) -> Page:
    if fmt == "json":
        doc = json.loads(body)
        links = {"next": doc["next_url"]} if "next_url" in doc else {}
        links |= {rel: href for rel, href in doc.get("_fh", {}).items() if rel != "archive"}
        return Page([i["id"] for i in doc["items"]], links)
    parsed = parse_back(body)
    root = etree.fromstring(body, XML)
    if fmt == "atom":
        validate_atom(body)
        found = root.xpath("a:link", namespaces=NS)
    else:
        found = root.xpath("channel/atom:link", namespaces=NS)
    history = [e for e in found if e.get("rel") not in ("self", "alternate", "hub")]
    links = {e.get("rel"): e.get("href") for e in history}
    assert len(links) == len(history), "one link per rel"
    # feedparser, reading on its own, sees the same feed-level links
    seen = {link["rel"]: link["href"] for link in parsed.feed.get("links", [])}
    assert {rel: seen.get(rel) for rel in links} == links
    return Page([e.id for e in parsed.entries], links)


def walk(
    client: TestClient, url: str, fmt: str, between: Callable[[int], None] = lambda n: None
) -> list[Page]:
    """Follow ``next`` from ``url`` to the end, calling ``between`` after each page."""
    pages: list[Page] = []
    next_url: str | None = url
    while next_url is not None:
        assert len(pages) < 1000, "the walk does not end"
        response = client.get(next_url)
        assert response.status_code == 200, response.text
        pages.append(read_page(fmt, response.content))
        next_url = pages[-1].links.get("next")
        between(len(pages))
    return pages


def walked(pages: list[Page]) -> list[str]:
    return [i for page in pages for i in page.ids]


# -- walking -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_next_walks_every_item_once_in_order_while_items_arrive(
    items: Items, client: TestClient, fmt: str
) -> None:
    first = items.add(spread(300))
    newest = max(items.published.values())
    late_old: list[str] = []

    def arrive(page: int) -> None:
        # Every page: an item newer than any (not in this walk); every fifth: one older than all.
        items.add([newest + timedelta(days=page)])
        if page % 5 == 0:
            late_old.extend(items.add([OLDEST - timedelta(days=page)]))

    pages = walk(client, f"/feeds/all.{fmt}?limit=7", fmt, arrive)
    assert walked(pages) == items.newest_first(first) + items.newest_first(late_old)
    assert all(len(page.ids) == 7 for page in pages[:-1]) and 0 < len(pages[-1].ids) <= 7
    assert "next" not in pages[-1].links


@pytest.mark.parametrize(
    ("route", "wanted"),
    [
        ("/feeds/tag/golang.json?limit=6", lambda tags: "golang" in tags),
        ("/feeds/golang.json?limit=6", lambda tags: "golang" in tags),
        ("/feeds/site/example.org.json?limit=6&not_tag=golang", lambda tags: "golang" not in tags),
        ("/feeds/all.json?limit=6&any_tag=golang&any_tag=rust", lambda tags: {"golang", "rust"} & set(tags)),
    ],
)
def test_every_route_and_filter_is_paged(
    items: Items, client: TestClient, route: str, wanted: Callable[[tuple[str, ...]], bool]
) -> None:
    kinds = [("kubernetes",), ("kubernetes", "golang"), ("rust",), ("golang", "rust")]
    links = items.add(spread(90), lambda n: kinds[n % 4])
    pages = walk(client, route, "json", lambda page: items.add([NOW - timedelta(minutes=page)]))
    expected = items.newest_first([link for link in links if wanted(items.tags[link])])
    assert walked(pages) == expected and len(pages) == -(-len(expected) // 6)


@pytest.mark.parametrize("fmt", FORMATS)
def test_later_pages_link_first_and_current_to_the_unpaged_feed(
    items: Items, client: TestClient, fmt: str
) -> None:
    items.add(spread(12), lambda n: ("golang",))
    url = f"http://testserver/feeds/tag/golang.{fmt}?ext=0&limit=5"
    first, second, third = walk(client, url, fmt)
    assert set(first.links) == {"next"}
    for page in (second, third):
        assert page.links["first"] == page.links["current"] == url
    assert set(second.links) == {"next", "first", "current"} and "next" not in third.links
    # the cursor is replaced, not added again; everything else is kept as the client wrote it
    assert second.links["next"].startswith(url + "&before=")
    assert second.links["next"].count("before=") == 1
    assert len(third.ids) == 2


@pytest.mark.parametrize("limit", [4, 5])
def test_no_next_when_the_page_holds_the_rest(items: Items, client: TestClient, limit: int) -> None:
    items.add(spread(4), lambda n: ("golang",))
    page = read_page("atom", client.get(f"/feeds/tag/golang.atom?limit={limit}").content)
    assert len(page.ids) == 4 and "next" not in page.links
    assert "next" not in read_page("rss", client.get("/feeds/tag/nothing-tagged.rss").content).links


# -- caching -------------------------------------------------------------------------------------


def test_a_page_keeps_its_bytes_and_etag_while_newer_items_arrive(items: Items, client: TestClient) -> None:
    items.add(spread(20))
    first = client.get("/feeds/all.atom?limit=5")
    second_url = read_page("atom", first.content).links["next"]
    second = client.get(second_url)
    assert second.headers["etag"] != first.headers["etag"]
    stale = client.get(second_url, headers={"If-None-Match": first.headers["etag"]})
    assert stale.status_code == 200 and stale.content == second.content

    items.add([NOW, NOW + timedelta(hours=1)])
    assert client.get("/feeds/all.atom?limit=5").headers["etag"] != first.headers["etag"]
    again = client.get(second_url)
    assert (again.content, again.headers["etag"]) == (second.content, second.headers["etag"])
    assert client.get(second_url, headers={"If-None-Match": second.headers["etag"]}).status_code == 304


def test_a_next_link_appears_when_the_slice_outgrows_the_page(items: Items, client: TestClient) -> None:
    items.add(spread(5))
    before = client.get("/feeds/all.json?limit=5")
    assert "next_url" not in json.loads(before.content)
    items.add([OLDEST - timedelta(days=1)])  # older than the page: the page's items stay the same
    after = client.get("/feeds/all.json?limit=5")
    assert "next_url" in json.loads(after.content)
    assert after.headers["etag"] != before.headers["etag"]


# -- bad cursors ---------------------------------------------------------------------------------


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


BAD_CURSORS = [
    "before=",
    "before=!!!",
    "before=abc",
    "before=a&before=b",
    "before=" + "A" * 81,
    "before=" + _cursor("not a cursor"),
    "before=" + _cursor("2024-01-01T00:00:00.000000|x"),
    "before=" + _cursor("2024-13-01T00:00:00.000000|5"),
    "before=" + _cursor("2024-01-01T00:00:00.000000|0"),
    "before=" + _cursor("2024-01-01T00:00:00.000000|99999999999999999999999"),
]


@pytest.mark.parametrize("query", BAD_CURSORS)
@pytest.mark.parametrize("path", ["/feeds/all.atom", "/feeds/tag/golang.rss", "/feeds/golang.json"])
def test_a_bad_cursor_is_422_naming_it(client: TestClient, path: str, query: str) -> None:
    assert_bad_request(client.get(f"{path}?{query}"), "before")


def test_a_cursor_outside_any_slice_is_an_empty_last_page(items: Items, client: TestClient) -> None:
    items.add(spread(3))
    ancient = _cursor("1971-01-01T00:00:00.000000|1")
    page = read_page("atom", client.get(f"/feeds/all.atom?before={ancient}").content)
    assert page.ids == [] and set(page.links) == {"first", "current"}
