"""``/opml.xml``: a feed reader importing it subscribes to every named output and tag feed,
and each URL in it answers with a feed."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator

import defusedxml.ElementTree as DET
import feedparser
import pytest
from test_api import DEMO_CONFIG, TestClient, polled_samples

from aggregator.opml import read_opml


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with polled_samples(tmp_path_factory.mktemp("catalog"), extras=False) as (_, _, client):
        yield client


def outlines(client: TestClient) -> dict[str, str]:
    response = client.get("/opml.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/x-opml")
    root = DET.fromstring(response.content)  # an independent reader: no DTD, no entities
    assert root.tag == "opml" and root.get("version") == "2.0"
    return {o.get("xmlUrl", ""): o.get("category", "") for o in root.iter("outline")}


def test_every_named_output_and_everything_are_listed(client: TestClient) -> None:
    slugs = [o["slug"] for o in tomllib.loads(DEMO_CONFIG.read_text("utf-8"))["outputs"]]
    listed = outlines(client)
    for slug in ["all", *slugs]:
        assert listed[f"http://testserver/feeds/{slug}.atom"] == "outputs"


def test_tag_feeds_are_listed_and_each_url_is_a_feed(client: TestClient) -> None:
    listed = outlines(client)
    tags = [url for url, category in listed.items() if category == "tags"]
    assert "http://testserver/feeds/tag/kubernetes.atom" in tags  # the samples' kubernetes tag feed
    for url in list(listed)[:12]:
        feed = feedparser.parse(client.get(url.removeprefix("http://testserver")).content)
        assert not feed.bozo and feed.entries, url


def test_our_own_opml_reader_reads_it_back(client: TestClient) -> None:
    body = client.get("/opml.xml").content
    assert {s.url for s in read_opml(body, "opml.xml")} == set(outlines(client))
