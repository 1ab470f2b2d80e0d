"""Archived feeds (RFC 5005 section 4) of named outputs, on both databases: the
subscription document links ``prev-archive`` to the newest archive, and walking
``prev-archive`` to the oldest one rebuilds the output's whole history, each
item once, in the month it was first stored; archives keep their bytes and
ETag while items arrive, and an edit moves the ETag of its own archive only;
unknown, open and future months are 404. Read back with feedparser and lxml
(Atom also against the RFC 4287 schema) and JSON Feed as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from lxml import etree
from sqlalchemy.engine import Engine
from test_api import FORMATS, XML, TestClient, assert_bad_request, client_for
from test_api_paging import FEED_URL, Items, Page, read_page
from test_store import entry, setup_sources, write

from aggregator.config import parse_config

FH = "http://purl.org/syndication/history/1.0"
CLOCK = datetime(2024, 10, 15, 12, 0, tzinfo=UTC)
BASE = "http://testserver"
OUTPUTS = [
    {"slug": "k8s", "title": "Kubernetes", "tag": ["kubernetes"]},
    {"slug": "recent-k8s", "title": "Kubernetes this month", "tag": ["kubernetes"], "since": "30d"},
    {"slug": "rust", "title": "Rust", "tag": ["rust"]},
]
CONFIG = parse_config({"sources": [{"url": FEED_URL}], "outputs": OUTPUTS, "server": {"version_interval": 0}})
# When the output's items were first stored (month by month), and what else was stored meanwhile.
SEEN = [
    datetime(2024, 5, 3, 8, 0, tzinfo=UTC),
    datetime(2024, 5, 31, 23, 59, 59, tzinfo=UTC),
    # June: nothing
    datetime(2024, 7, 31, 23, 59, 59, 999000, tzinfo=UTC),
    datetime(2024, 8, 1, 0, 0, tzinfo=UTC),
    datetime(2024, 8, 9, 12, 0, tzinfo=UTC),
    datetime(2024, 8, 20, 6, 30, tzinfo=UTC),
    datetime(2024, 9, 2, 10, 0, tzinfo=UTC),
    datetime(2024, 9, 30, 23, 0, tzinfo=UTC),
    datetime(2024, 10, 1, 0, 0, tzinfo=UTC),  # the current month: not archived yet
    datetime(2024, 10, 14, 9, 0, tzinfo=UTC),
]
# newest first; April, the month before the oldest item's, starts the chain without entries
ARCHIVED = ["2024-09", "2024-08", "2024-07", "2024-06", "2024-05", "2024-04"]


@dataclass
class History:
    items: Items
    month_of: dict[str, str]  # public item id: the month it was first stored, YYYY-MM
    links: dict[str, str]  # public item id: its link


@pytest.fixture
def history(engine: Engine) -> History:
    items = Items(engine, setup_sources(engine, *CONFIG.sources)[FEED_URL])
    month_of, links = {}, {}
    for n, seen in enumerate(SEEN):
        # Published dates say nothing of when an item was stored: some are years old.
        published = seen - timedelta(days=400 * (n % 3))
        (link,) = items.add([published], lambda i: ("kubernetes", "golang"), seen=seen)
        items.add([published], lambda i: ("golang",), seen=seen)  # in no output here
        (public,) = items.newest_first([link])
        month_of[public], links[public] = seen.strftime("%Y-%m"), link
    return History(items, month_of, links)


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with client_for(engine, CONFIG, CLOCK) as c:
        yield c


def archive_url(key: str, fmt: str, slug: str = "k8s") -> str:
    return f"{BASE}/feeds/{slug}/archive/{key}.{fmt}"


def is_marked_archive(fmt: str, body: bytes) -> bool:
    if fmt == "json":
        return bool(json.loads(body).get("_fh", {}).get("archive"))
    root = etree.fromstring(body, XML)
    head = root if fmt == "atom" else root.find("channel")
    return len(head.findall(f"{{{FH}}}archive")) == 1


@dataclass(frozen=True)
class Archive:
    url: str
    page: Page
    response: httpx.Response


def walk_archives(client: TestClient, fmt: str) -> tuple[Page, list[Archive]]:
    """The subscription document, and every archive from the newest back along ``prev-archive``."""
    subscription = client.get(f"/feeds/k8s.{fmt}")
    assert subscription.status_code == 200
    current = read_page(fmt, subscription.content)
    assert not is_marked_archive(fmt, subscription.content)
    archives: list[Archive] = []
    url = current.links.get("prev-archive")
    while url is not None:
        assert len(archives) < 100, "the chain does not end"
        response = client.get(url)
        assert response.status_code == 200, (url, response.text)
        archives.append(Archive(url, read_page(fmt, response.content), response))
        url = archives[-1].page.links.get("prev-archive")
    return current, archives


# -- the whole history ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_prev_archive_walks_the_whole_history_once(history: History, client: TestClient, fmt: str) -> None:
    current, archives = walk_archives(client, fmt)
    assert [a.url for a in archives] == [archive_url(key, fmt) for key in ARCHIVED]
    for newer, archive, older in zip([None, *archives], archives, [*archives[1:], None], strict=False):
        assert is_marked_archive(fmt, archive.response.content)
        assert archive.page.links["current"] == f"{BASE}/feeds/k8s.{fmt}"
        assert archive.page.links.get("next-archive") == (newer.url if newer else None)
        assert archive.page.links.get("prev-archive") == (older.url if older else None)
        assert "next" not in archive.page.links  # an archive is complete, not a page
        key = archive.url.rsplit("/", 1)[1].split(".")[0]
        expected = sorted(i for i, month in history.month_of.items() if month == key)
        assert sorted(archive.page.ids) == expected
    archived = [i for a in archives for i in a.page.ids]
    assert len(archived) == len(set(archived))
    assert set(archived) | set(current.ids) == set(history.month_of)
    assert set(archived) == {i for i, month in history.month_of.items() if month < "2024-10"}


def test_an_archive_is_cached_for_long(history: History, client: TestClient) -> None:
    archive = client.get(archive_url("2024-08", "atom"))
    assert archive.headers["cache-control"] == "public, max-age=86400"
    assert client.get("/feeds/k8s.atom").headers["cache-control"] == "public, max-age=300"
    again = client.get(archive_url("2024-08", "atom"), headers={"If-None-Match": archive.headers["etag"]})
    assert again.status_code == 304


# -- stability -----------------------------------------------------------------------------------


def snapshot(client: TestClient) -> dict[str, tuple[bytes, str]]:
    found = {}
    for fmt in FORMATS:
        for key in ARCHIVED:
            response = client.get(archive_url(key, fmt))
            assert response.status_code == 200
            found[archive_url(key, fmt)] = (response.content, response.headers["etag"])
    return found


def test_new_items_leave_every_archive_as_it_was(history: History, client: TestClient) -> None:
    before = snapshot(client)
    # New items are first stored now, whatever dates they claim: none joins a closed month.
    history.items.add([datetime(2024, 6, 10, tzinfo=UTC), CLOCK], lambda n: ("kubernetes",), seen=CLOCK)
    assert len(read_page("json", client.get("/feeds/k8s.json").content).ids) == len(SEEN) + 2
    assert snapshot(client) == before


def test_an_edit_moves_the_etag_of_its_own_archive_only(
    history: History, client: TestClient, engine: Engine
) -> None:
    before = snapshot(client)
    edited = next(i for i, month in history.month_of.items() if month == "2024-08")
    link = history.links[edited]
    published = history.items.published[link]
    write(engine, history.items.source, [entry(link, "Edited title", published, tags=("kubernetes",))], CLOCK)
    after = snapshot(client)
    for url, (body, etag) in before.items():
        if "/2024-08." in url:
            assert after[url][1] != etag and b"Edited title" in after[url][0]
        else:
            assert after[url] == (body, etag), url


def test_when_a_month_ends_it_becomes_the_newest_archive(history: History, engine: Engine) -> None:
    with client_for(engine, CONFIG, CLOCK) as october:
        before = snapshot(october)
    with client_for(engine, CONFIG, datetime(2024, 11, 2, tzinfo=UTC)) as november:
        _, archives = walk_archives(november, "atom")
        assert [a.url for a in archives] == [archive_url(k, "atom") for k in ["2024-10", *ARCHIVED]]
        assert sorted(archives[0].page.ids) == sorted(
            i for i, m in history.month_of.items() if m == "2024-10"
        )
        after = snapshot(november)
    # Only the archive that was the newest changes: it gains its next-archive link.
    for url, seen in before.items():
        if "/2024-09." in url:
            assert after[url] != seen
        else:
            assert after[url] == seen, url


# -- what has no archive -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["2024-10", "2024-11", "2099-01", "2024-03", "1969-12", "2024-13", "2024-1", "24-08", "x", "2024-08-01"],
)
def test_open_future_and_unknown_months_are_404(history: History, client: TestClient, key: str) -> None:
    response = client.get(f"/feeds/k8s/archive/{key}.atom")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "url",
    [
        "/feeds/nothing/archive/2024-08.atom",
        "/feeds/k8s/archive/2024-08.xml",
        "/feeds/recent-k8s/archive/2024-08.atom",  # a window that moves with the clock has no archives
        "/feeds/rust/archive/2024-09.json",  # no items at all
    ],
)
def test_outputs_and_formats_without_archives_are_404(history: History, client: TestClient, url: str) -> None:
    assert client.get(url).status_code == 404


def test_an_archive_takes_no_parameters(history: History, client: TestClient) -> None:
    assert_bad_request(client.get(archive_url("2024-08", "atom") + "?limit=5"), "limit")
    assert_bad_request(client.get(archive_url("2024-08", "rss") + "?before=x"), "before")


@pytest.mark.parametrize(
    "url",
    ["/feeds/recent-k8s.atom", "/feeds/rust.atom", "/feeds/k8s.atom?limit=5", "/feeds/tag/kubernetes.atom"],
)
def test_only_an_outputs_own_feed_links_its_archives(history: History, client: TestClient, url: str) -> None:
    assert "prev-archive" not in read_page("atom", client.get(url).content).links
