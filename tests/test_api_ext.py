"""``?ext=1`` on the feed routes: standard elements only by default, the
aggregator's extension data on request, validated like the filters, with its
own ETag; and items known only from a user's bookmarks carry text in every
format (the real Hatena user feed sample, served and polled)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import html5lib
import pytest
from feedcheck import parse_back, validate_atom
from feedserver import FeedServer
from lxml import etree
from test_api import (
    AGG,
    CONTENT_TYPES,
    FORMATS,
    SAMPLES,
    TestClient,
    assert_bad_request,
    client_for,
    polled_samples,
)

from aggregator.config import parse_config
from aggregator.db import make_engine
from aggregator.poller import Poller

FEEDS = ["/feeds/all", "/feeds/tag/kubernetes", "/feeds/site/deeeet.com", "/feeds/k8s-popular"]
USER_SAMPLE = SAMPLES / "hatena-user-umiyosh.rdf"
RSS1 = {
    "rss": "http://purl.org/rss/1.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "hatena": "http://www.hatena.ne.jp/info/xmlns#",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with polled_samples(tmp_path_factory.mktemp("ext"), extras=False) as (_, _, c):
        yield c


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("route", FEEDS)
def test_extensions_only_on_request(client: TestClient, route: str, fmt: str) -> None:
    default = client.get(f"{route}.{fmt}")
    off = client.get(f"{route}.{fmt}?ext=0")
    on = client.get(f"{route}.{fmt}?ext=1")
    assert default.status_code == off.status_code == on.status_code == 200
    for response in (default, off):
        assert AGG.encode() not in response.content
        if fmt == "json":  # only the item's page, which every feed carries
            assert all(
                item["_aggregator"].keys() == {"item_url"} for item in json.loads(response.content)["items"]
            )
    if fmt == "json":
        assert all("_aggregator" in item for item in json.loads(on.content)["items"])
    else:
        assert AGG.encode() in on.content
        counts = [e.get("agg_bookmarkcount") for e in parse_back(on.content).entries]
        assert any(counts)
    if fmt == "atom":
        validate_atom(default.content)
        validate_atom(on.content)


@pytest.mark.parametrize("value", ["2", "true", "", "01", "-1"])
def test_bad_ext_is_422_naming_it(client: TestClient, value: str) -> None:
    assert_bad_request(client.get(f"/feeds/all.atom?ext={value}"), "ext")
    assert_bad_request(client.get(f"/feeds/k8s-popular.json?ext={value}&tag=golang"), "ext")
    assert client.head(f"/feeds/tag/kubernetes.rss?ext={value}").status_code == 422


def test_ext_given_twice_is_422(client: TestClient) -> None:
    assert_bad_request(client.get("/feeds/all.json?ext=1&ext=1"), "ext")


def test_ext_is_a_feed_option_only(client: TestClient) -> None:
    assert_bad_request(client.get("/api/items?ext=1"), "ext")


@pytest.mark.parametrize("fmt", FORMATS)
def test_ext_has_its_own_etag(client: TestClient, fmt: str) -> None:
    url = f"/feeds/tag/kubernetes.{fmt}"
    plain, extended = client.get(url), client.get(url + "?ext=1")
    assert plain.content != extended.content
    assert plain.headers["etag"] != extended.headers["etag"]
    # each answers 304 to its own ETag only
    assert client.get(url, headers={"If-None-Match": plain.headers["etag"]}).status_code == 304
    assert client.get(url + "?ext=1", headers={"If-None-Match": plain.headers["etag"]}).status_code == 200
    again = client.get(url + "?ext=1", headers={"If-None-Match": extended.headers["etag"]})
    assert again.status_code == 304


# -- items known only from a user's bookmarks ---------------------------------------------------


def expected_texts(sample: Path) -> dict[str, str]:
    """Title -> the text a reader should see, from the user feed itself."""
    root = etree.parse(str(sample), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    texts = {}
    for item in root.findall("rss:item", RSS1):
        user = item.findtext("dc:creator", namespaces=RSS1) or ""
        comment = (item.findtext("rss:description", namespaces=RSS1) or "").strip()
        count = int(item.findtext("hatena:bookmarkcount", default="0", namespaces=RSS1))
        if comment:
            text = f"{user}: {comment}"
        elif count:
            text = f"{count} user{'s' if count != 1 else ''} bookmarked this"
        else:
            text = f"Bookmarked by {user}"
        texts[item.findtext("rss:title", namespaces=RSS1) or ""] = text
    return texts


def text_of(fragment: str) -> str:
    root = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    return "\n".join("".join(p.itertext()) for p in root.iter("p")) or "".join(root.itertext())


def texts_in(fmt: str, body: bytes) -> dict[str, str]:
    if fmt == "json":
        return {i["title"]: i["content_text"] for i in json.loads(body)["items"]}
    parsed = parse_back(body)
    found = {}
    for entry in parsed.entries:
        blocks = [c.value for c in entry.get("content", [])] or [entry.get("summary", "")]
        found[entry.title] = text_of(blocks[0])
    return found


@pytest.fixture
def user_feed_only(tmp_path: Path) -> Iterator[TestClient]:
    """Only the user feed is polled, so each of its items is known from a bookmark alone."""
    engine = make_engine(f"sqlite:///{tmp_path / 'user.db'}")
    with FeedServer() as srv:
        srv.route("/user.rdf", USER_SAMPLE.read_bytes(), content_type=CONTENT_TYPES[".rdf"])
        config = parse_config(
            {
                "sources": [{"url": srv.url("/user.rdf"), "kind": "user"}],
                "poller": {"allow_private_networks": True},
            }
        )
        report = asyncio.run(Poller(engine, config).run_once(force=True))
        assert [o.status for o in report.outcomes] == ["new"], report.summary()
    with client_for(engine, config) as c:
        yield c
    engine.dispose()


@pytest.mark.parametrize("fmt", FORMATS)
def test_bookmark_only_items_have_text(user_feed_only: TestClient, fmt: str) -> None:
    expected = expected_texts(USER_SAMPLE)
    assert any(": " in text for text in expected.values())  # the sample has comments
    assert any("bookmarked this" in text for text in expected.values())  # and items without
    response = user_feed_only.get(f"/feeds/all.{fmt}?limit=500")
    assert response.status_code == 200
    if fmt == "atom":
        validate_atom(response.content)
    assert texts_in(fmt, response.content) == expected
    items = user_feed_only.get("/api/items?limit=500").json()["items"]
    assert {i["title"] for i in items} == set(expected)
    assert not any(i["summary"] or i["content"] for i in items)
