"""Why is this item here, end to end on both databases: ``/api/items/{id}``, the ``/item/{id}``
page, the links to it from every listing, and the related link on each entry of every feed
format, read back by feedparser, lxml and html5lib.

Expectations come from the sample feed files (``test_store_provenance.sample_sightings``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import feedparser
import pytest
from conftest import fresh_pg_schema
from feedcheck import assert_safe_html, parse_back, validate_atom
from lxml import etree
from test_api import XML, TestClient, client_for
from test_pages import article_key, by_class, parse, text
from test_store_provenance import Polled, insert_points, polled_on, widely_seen

from aggregator.db import make_engine
from aggregator.filters import Filter
from aggregator.ingest.merge import TEXT_FIELDS
from aggregator.render import item_id
from aggregator.store.slices import select_slice

ATOM = "http://www.w3.org/2005/Atom"
BASE = "http://testserver"
T0 = datetime(2024, 8, 1, 9, 0, tzinfo=UTC)
GPU = "https://deeeet.com/writing/2018/01/15/kubernetes-gpu/"  # five sources, a user's comment among them
HOSTILE = "https://hostile.example/posts/1"  # its bookmark feed's user and comment carry markup


@dataclass
class Served(Polled):
    client: TestClient

    def item(self, key: str) -> dict[str, Any]:
        response = self.client.get(f"/api/items/{self.item_ids[key]}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def page(self, key: str) -> Any:
        response = self.client.get(f"/item/{self.item_ids[key]}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        return parse(response.text)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('api-provenance') / 'samples.db'}"
        else:
            url = stack.enter_context(fresh_pg_schema())
        engine = make_engine(url)
        stack.callback(engine.dispose)
        config, sources, items = polled_on(engine)
        client = stack.enter_context(client_for(engine, config))
        yield Served(engine, config, sources, items, client)


# -- /api/items/{id} -----------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(widely_seen()))
def test_api_lists_exactly_the_sources_the_samples_carry(served: Served, key: str) -> None:
    expected = {s.source: s for s in widely_seen()[key]}
    body = served.item(key)
    assert body["item"]["id"] == served.item_ids[key]
    assert article_key(body["item"]["link"]) == key
    assert body["page"] == f"/item/{served.item_ids[key]}"
    shown = {s["url"].rsplit("/", 1)[-1]: s for s in body["sightings"]}
    assert set(shown) == set(expected)
    for name, sighting in shown.items():
        said = expected[name]
        assert sighting["source_id"] == served.source_ids[name]
        assert (sighting["kind"], sighting["title"]) == (said.kind, served.titles[name])
        assert {served.config.normalize(t) for t in sighting["tags"]} == said.tags
        assert (sighting["user"], sighting["comment"]) == (said.user, said.comment)
        assert sighting["bookmark_count"] == said.count
        assert datetime.fromisoformat(sighting["said_at"]) == said.date
    owners = [s["source_id"] for s in body["sightings"] if s["owner"]]
    assert owners == [body["owner_source_id"]]
    assert [i["id"] for i in body["item"]["sources"]] == [s["source_id"] for s in body["sightings"]]


def test_api_names_where_each_field_came_from(served: Served) -> None:
    said = {s.source: s for s in widely_seen()[GPU]}
    body = served.item(GPU)
    blog = served.source_ids["deeeet-blog.rss"]  # the publisher's own feed outranks every bookmark feed
    assert body["owner_source_id"] == blog
    assert body["item"]["title"] == said["deeeet-blog.rss"].title
    fields = {f["field"]: f for f in body["fields"]}
    for name in TEXT_FIELDS:
        assert (fields[name]["rule"], fields[name]["sources"]) == ("owner", [blog])
    assert fields["published"]["sources"] == [blog]
    best = max(s.count or 0 for s in said.values())
    assert body["item"]["bookmark_count"] == best
    assert fields["bookmark_count"]["rule"] == "all_sources"
    assert {served_name(served, i) for i in fields["bookmark_count"]["sources"]} == {
        name for name, s in said.items() if s.count == best
    }
    assert {served_name(served, i) for i in fields["tags"]["sources"]} == {
        name for name, s in said.items() if s.tags
    }
    assert all(f["note"] for f in body["fields"])


def served_name(served: Served, source_id: int) -> str:
    return next(name for name, ident in served.source_ids.items() if ident == source_id)


def test_api_bookmark_history_oldest_first(served: Served) -> None:
    key = "https://deeeet.com/writing/2015/09/30/otto/"
    site, docker = served.source_ids["hatena-site-deeeet.com.rdf"], served.source_ids["hatena-tag-docker.rdf"]
    item = served.item_ids[key]
    insert_points(
        served.engine,
        [
            (item, docker, T0 + timedelta(days=1), 180),
            (item, site, T0, 170),
            (item, site, T0 + timedelta(hours=3), 178),
        ],
    )
    # The points the samples' poll recorded (now, long after T0) follow the ones inserted here.
    polled = [
        p
        for p in served.item(key)["bookmark_history"]
        if datetime.fromisoformat(p["at"]) > T0 + timedelta(days=2)
    ]
    history = served.item(key)["bookmark_history"][: -len(polled) or None]
    assert [(datetime.fromisoformat(p["at"]), p["count"], p["source_id"]) for p in history] == [
        (T0, 170, site),
        (T0 + timedelta(hours=3), 178, site),
        (T0 + timedelta(days=1), 180, docker),
    ]
    assert history[2]["source_title"] == served.titles["hatena-tag-docker.rdf"]
    root = served.page(key)
    (table,) = by_class(root, "table", "history")
    rows = [[text(td) for td in tr.findall("td")] for tr in table.iter("tr") if tr.find("td") is not None]
    assert [(r[1], r[2]) for r in rows][: -len(polled) or None] == [
        ("170", served.titles["hatena-site-deeeet.com.rdf"]),
        ("178", served.titles["hatena-site-deeeet.com.rdf"]),
        ("180", served.titles["hatena-tag-docker.rdf"]),
    ]


@pytest.mark.parametrize("ident", ["999999999", str(2**63 - 1)])
def test_unknown_item_is_404_json_and_html(served: Served, ident: str) -> None:
    api = served.client.get(f"/api/items/{ident}")
    assert api.status_code == 404
    assert api.json() == {"error": "not_found", "message": f"no item {ident}"}
    page = served.client.get(f"/item/{ident}")
    assert page.status_code == 404 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert text(parse(page.text).find("body/h1")) == "404"


@pytest.mark.parametrize("ident", ["0", "-1", "abc", "1.5", "1e3", str(2**63), "9" * 40, "%20"])
def test_bad_item_id_is_422_naming_it(served: Served, ident: str) -> None:
    api = served.client.get(f"/api/items/{ident}")
    assert api.status_code == 422
    assert api.json()["error"] == "invalid_parameter" and api.json()["parameter"] == "id"
    page = served.client.get(f"/item/{ident}")
    assert page.status_code == 422 and page.headers["content-type"] == "text/html; charset=utf-8"


def test_openapi_documents_the_item_route(served: Served) -> None:
    schema = served.client.get("/openapi.json").json()
    operation = schema["paths"]["/api/items/{id}"]["get"]
    assert {"200", "404", "422"} <= set(operation["responses"])
    (param,) = operation["parameters"]
    assert param["name"] == "id" and param["in"] == "path"
    assert param["schema"]["minimum"] == 1 and param["schema"]["maximum"] == 2**63 - 1
    names = set(schema["components"]["schemas"])
    assert {"ProvenanceOut", "SightingOut", "FieldOriginOut", "BookmarkPointOut"} <= names
    assert "/item/{id}" not in schema["paths"]  # HTML pages stay out of the API docs


# -- the /item/{id} page -------------------------------------------------------------------------


def test_item_page_shows_the_item_and_each_source(served: Served) -> None:
    body = served.item(GPU)
    root = served.page(GPU)
    (title,) = by_class(root.find("body/h1"), "a", "title")
    assert title.get("href") == body["item"]["link"]
    assert text(title) == body["item"]["title"]
    (tags,) = by_class(root, "div", "tags")
    assert [(a.get("href"), text(a)) for a in tags.iter("a")] == [
        (f"/tag/{quote(served.config.normalize(t), safe='')}", t) for t in body["item"]["tags"]
    ]
    (table,) = by_class(root, "table", "sightings")
    rows = [tr.findall("td") for tr in table.iter("tr") if tr.find("td") is not None]
    said = {s.source: s for s in widely_seen()[GPU]}
    assert len(rows) == len(said)
    for cells in rows:
        name = cells[0].find("a").get("href").rsplit("/", 1)[-1]
        assert text(cells[0]).startswith(served.titles[name])
        assert text(cells[0]).endswith("(owner)") == (served.source_ids[name] == body["owner_source_id"])
        assert text(cells[1]) == said[name].kind
        assert {served.config.normalize(text(a)) for a in cells[2].iter("a")} == said[name].tags
        assert (text(cells[3]) or None, text(cells[4]) or None) == (said[name].user, said[name].comment)
        assert text(cells[5]) == (str(said[name].count) if said[name].count is not None else "")
    (fields,) = by_class(root, "table", "fields")
    shown = [[text(td) for td in tr.findall("td")] for tr in fields.iter("tr") if tr.find("td") is not None]
    assert [(r[0], r[1]) for r in shown] == [(f["field"], f["rule"]) for f in body["fields"]]
    blog = served.titles["deeeet-blog.rss"]
    assert all(r[2] == blog for r in shown if r[0] in TEXT_FIELDS)
    # The poll recorded one point for each source that gave a count.
    (history,) = by_class(root, "table", "history")
    points = [[text(td) for td in tr.findall("td")] for tr in history.iter("tr") if tr.find("td") is not None]
    counted = {(str(s.count), served.titles[name]) for name, s in said.items() if s.count is not None}
    assert {(r[1], r[2]) for r in points} == counted and len(points) == len(counted)


def test_item_page_escapes_what_sources_said(served: Served) -> None:
    response = served.client.get(f"/item/{served.item_ids[HOSTILE]}")
    assert response.status_code == 200
    assert_safe_html(response.text, where="/item page")
    root = parse(response.text)
    (table,) = by_class(root, "table", "sightings")
    shown = [[text(td) for td in tr.findall("td")] for tr in table.iter("tr") if tr.find("td") is not None]
    assert ["mallory", "great post"] in [row[3:5] for row in shown]  # what the bookmark feed said, cleaned


# -- links from every listing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "params"),
    [("/tag/kubernetes", {"tag": "kubernetes"}), ("/site/deeeet.com", {"site": "deeeet.com"})],
)
def test_every_listed_item_links_to_its_page(served: Served, page: str, params: dict[str, str]) -> None:
    listed = served.client.get("/api/items", params={**params, "limit": 50}).json()["items"]
    root = parse(served.client.get(page).text)
    (ul,) = by_class(root, "ul", "items")
    lis = ul.findall("li")
    assert len(lis) == len(listed) > 0
    for li, item in zip(lis, listed, strict=True):
        (why,) = by_class(li, "a", "why")
        assert why.get("href") == f"/item/{item['id']}"
        assert text(by_class(li, "a", "title")[0]) == item["title"]
    target = served.client.get(by_class(lis[0], "a", "why")[0].get("href"))
    assert target.status_code == 200
    assert text(parse(target.text).find("body/h1")) == listed[0]["title"]


# -- the related link in every feed format -------------------------------------------------------


def _pages(served: Served) -> dict[str, str]:
    """An item's link, or its public id when it has none -> the absolute URL of its page."""
    with served.engine.connect() as conn:
        items = select_slice(conn, Filter(limit=500))
    return {i.link or item_id(i.key): f"{BASE}/item/{i.id}" for i in items}


def test_atom_entries_link_to_their_page(served: Served) -> None:
    body = served.client.get("/feeds/all.atom?limit=500").content
    validate_atom(body)
    expected = _pages(served)
    entries = parse_back(body).entries
    assert len(entries) > 20
    for entry in entries:
        related = [link.href for link in entry.links if link.rel == "related"]
        assert related == [expected[entry.link]]
    root = etree.fromstring(body, XML)
    assert all(
        e.get("type") == "text/html" for e in root.iterfind(f"{{{ATOM}}}entry/{{{ATOM}}}link[@rel='related']")
    )


def test_rss_items_link_to_their_page(served: Served) -> None:
    body = served.client.get("/feeds/tag/kubernetes.rss").content
    expected = _pages(served)
    parsed = parse_back(body)
    assert parsed.version == "rss20" and parsed.entries
    for entry in parsed.entries:
        assert [link.href for link in entry.links if link.rel == "related"] == [expected[entry.link]]
    root = etree.fromstring(body, XML)
    assert len(root.findall(f"channel/item/{{{ATOM}}}link[@rel='related']")) == len(parsed.entries)


def test_json_feed_items_carry_their_page(served: Served) -> None:
    doc = served.client.get("/feeds/site/deeeet.com.json").json()
    expected = _pages(served)
    assert doc["items"]
    for item in doc["items"]:
        assert item["_aggregator"] == {"item_url": expected[item["url"]]}
        assert "external_url" not in item
    extended = served.client.get("/feeds/site/deeeet.com.json?ext=1").json()
    assert all(i["_aggregator"]["item_url"] == expected[i["url"]] for i in extended["items"])
    assert all("sources" in i["_aggregator"] for i in extended["items"])


def test_feed_links_follow_the_host_the_client_used(served: Served) -> None:
    body = served.client.get("/feeds/all.atom", headers={"Host": "agg.example:8443"}).content
    parsed = feedparser.parse(body)
    related = {link.href for e in parsed.entries for link in e.links if link.rel == "related"}
    assert related and all(href.startswith("http://agg.example:8443/item/") for href in related)
    page = served.client.get(next(iter(related)).replace("http://agg.example:8443", ""))
    assert page.status_code == 200
