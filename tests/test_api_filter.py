"""``filter=`` over HTTP, on SQLite and PostgreSQL: every route takes it, ANDed with the other
parameters and with the route's own filter; a bad query is a 422 naming the position; and
``/api/explain`` says, term by term, why an item is or is not in a slice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import feedparser
import pytest
from filterdata import NOW, SOURCES, make_sources, write_posts
from sqlalchemy.engine import Engine
from test_api import TestClient, client_for, polled_samples
from test_store_filtersql import POSTS

from aggregator.config import Config, parse_config

OUTPUT = {
    "slug": "k8s-no-helm",
    "title": "Kubernetes without Helm",
    "tag": "kubernetes",
    "filter": "-tag:helm",
}


def config_of() -> Config:
    sources = [{"url": c.url, "kind": c.kind, "title": c.title} for c in SOURCES.values()]
    return parse_config({"sources": sources, "outputs": [OUTPUT], "aliases": {"k8s": "kubernetes"}})


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    write_posts(engine, make_sources(engine), POSTS)
    with client_for(engine, config_of(), NOW) as test_client:
        yield test_client


def slugs(client: TestClient, path: str, **params: Any) -> set[str]:
    answer = client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    if path.startswith("/api/"):
        return {i["link"].rsplit("/", 1)[1] for i in answer.json()["items"]}
    if path.endswith(".json"):
        return {i["url"].rsplit("/", 1)[1] for i in answer.json()["items"]}
    return {e.link.rsplit("/", 1)[1] for e in feedparser.parse(answer.content).entries}


def test_every_route_takes_a_filter(client: TestClient) -> None:
    query = "tag:kubernetes -tag:helm"
    assert slugs(client, "/api/items", filter=query) == {"k8s", "old"}
    for ext in ("atom", "rss", "json"):
        assert slugs(client, f"/feeds/all.{ext}", filter=query) == {"k8s", "old"}
    page = client.get("/tag/kubernetes", params={"filter": "-tag:helm"})
    assert page.status_code == 200 and "Kubernetes入門" in page.text and "Helm charts" not in page.text
    assert "filtered by “-tag:helm”" in page.text
    bad = client.get("/site/deeeet.com", params={"filter": "tag:"})
    assert bad.status_code == 422 and "expected a value after" in bad.text  # an HTML page, as other errors


def test_the_other_parameters_and_with_the_filter(client: TestClient) -> None:
    assert slugs(client, "/api/items", filter="tag:kubernetes OR tag:docker", min_bookmarks=100) == {
        "k8s",
        "helm",
    }
    assert slugs(client, "/api/items", filter="-tag:go", site="deeeet.com", q="chart") == {"helm"}
    assert slugs(client, "/api/items", filter="#k8s", not_tag="helm") == {"k8s", "old"}  # aliased


def test_a_route_filter_ands_with_the_query(client: TestClient) -> None:
    assert slugs(client, "/feeds/tag/kubernetes.atom", filter="-user:umiyosh") == {"helm"}
    assert slugs(client, "/feeds/site/deeeet.com.atom", filter="bookmarks:<200 OR tag:go") == {"helm"}
    # a named output's own filter (tag = kubernetes, filter = -tag:helm), and the query's
    assert slugs(client, "/feeds/k8s-no-helm.atom") == {"k8s", "old"}
    assert slugs(client, "/feeds/k8s-no-helm.atom", filter="bookmarks:>=1") == {"k8s"}


def test_the_filter_names_the_feed_and_its_cache_entry(client: TestClient) -> None:
    plain = feedparser.parse(client.get("/feeds/all.atom").content)
    filtered = feedparser.parse(client.get("/feeds/all.atom", params={"filter": "tag:go"}).content)
    other = feedparser.parse(client.get("/feeds/all.atom", params={"filter": "tag:helm"}).content)
    assert filtered.feed.title == "Everything, filtered by “tag:go” — aggregator"
    assert [e.title for e in filtered.entries] == ["Go言語の並行処理"]
    assert [e.title for e in other.entries] == ["Helm charts 100%"]  # not the cached tag:go answer
    assert len({plain.feed.id, filtered.feed.id, other.feed.id}) == 3
    page = client.get("/api/items", params={"filter": "TAG:K8s"}).json()
    assert page["filter"] == "filter=tag%3Akubernetes&limit=50"


def test_a_relative_date_keeps_the_feed_id_as_time_passes(engine: Engine, client: TestClient) -> None:
    params = {"filter": "date:7d"}
    now = feedparser.parse(client.get("/feeds/all.atom", params=params).content)
    with client_for(engine, config_of(), NOW + timedelta(days=3)) as later_client:
        later = feedparser.parse(later_client.get("/feeds/all.atom", params=params).content)
    assert now.feed.id == later.feed.id
    assert [e.title for e in now.entries] == ["Go言語の並行処理", "Docker tips"]
    assert [e.title for e in later.entries] == ["Go言語の並行処理"]  # the window moved with the clock


BAD = [
    ("tag:kubernetes -tag:", 20, "expected a value after 'tag:'"),
    ("(tag:a OR tag:b", 0, "missing ')'"),
    ("tag:a OR", 8, "expected a term after 'OR'"),
    ("tag:a )", 6, "unbalanced ')'"),
    ("bookmarks:>=many", 10, "bookmarks: expected a whole number from 0 to 10000000, got 'many'"),
    ("date:2024-13-01", 5, "date: expected a date (2024-05-01), a datetime (2024-05-01T12:00:00Z) "
                           "or an age (7d), got '2024-13-01'"),
    ("tag:a site:-bad-", 11, "site: not a host name: '-bad-'"),
    ("titel:go", 0, "unknown term 'titel:' (known: tag, site, source, user, bookmarks, date, intitle, "
                    "author)"),
    ("x" * 501, 500, "longer than 500 characters"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "position", "message"), BAD, ids=[b[0][:20] for b in BAD])
def test_a_bad_query_is_a_422_with_its_position(
    client: TestClient, query: str, position: int, message: str
) -> None:
    for path in ("/api/items", "/feeds/all.atom", "/feeds/tag/go.rss", "/api/explain"):
        answer = client.get(path, params={"filter": query, **({"item": "1"} if "explain" in path else {})})
        assert answer.status_code == 422, path
        assert answer.json() == {"error": "invalid_filter", "position": position, "message": message}


def test_other_bad_parameters_keep_their_answer(client: TestClient) -> None:
    answer = client.get("/api/items", params={"filter": "tag:a", "min_bookmarks": "x"})
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_parameter"
    assert answer.json()["parameter"] == "min_bookmarks"


def test_the_openapi_schema_describes_the_filter(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    parameters = schema["paths"]["/feeds/all.{ext}"]["get"]["parameters"]
    (described,) = [p for p in parameters if p["name"] == "filter"]
    assert "bookmarks:>=100" in described["description"] and "-" in described["description"]
    assert "filter" in {p["name"] for p in schema["paths"]["/api/items"]["get"]["parameters"]}


# -- /api/explain ---------------------------------------------------------------------------------


def explain(client: TestClient, item: str, query: str, **params: Any) -> dict[str, Any]:
    answer = client.get("/api/explain", params={"item": item, "filter": query, **params})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_explain_gives_each_terms_truth_and_its_evidence(client: TestClient) -> None:
    body = explain(
        client, "https://deeeet.com/k8s", "tag:kubernetes -tag:docker bookmarks:>=500 user:umiyosh PODS"
    )
    assert body["title"] == "Kubernetes入門" and body["in_slice"] is False
    terms = {t["term"]: t for t in body["terms"]}
    assert terms["tag:kubernetes"]["holds"] and terms["tag:kubernetes"]["evidence"]["sources"] == [
        "Blog (feed)"
    ]
    assert terms["tag:docker"] | {"evidence": None} == {
        "term": "tag:docker", "position": 16, "negated": True, "matches": False, "holds": True,
        "evidence": None,
    }  # fmt: skip
    assert not terms["bookmarks:>=500"]["holds"]
    assert terms["bookmarks:>=500"]["evidence"] == {"count": 455}
    (seen,) = terms["user:umiyosh"]["evidence"]["sightings"]
    assert terms["user:umiyosh"]["holds"]
    assert (seen["source"], seen["user"]) == ("umiyosh (user)", "umiyosh")
    assert terms["PODS"]["holds"] and terms["PODS"]["evidence"] == {"fields": ["summary"]}


def test_explain_says_when_the_item_is_in_the_slice(client: TestClient) -> None:
    k8s_id = client.get("/api/items", params={"filter": "intitle:入門"}).json()["items"][0]["id"]
    body = explain(client, str(k8s_id), "tag:kubernetes -tag:docker bookmarks:>=400", site="deeeet.com")
    assert body["in_slice"] is True and all(t["holds"] for t in body["terms"])
    assert explain(client, str(k8s_id), "tag:go OR intitle:kubernetes")["in_slice"] is True
    assert explain(client, str(k8s_id), "", any_tag=["go", "kubernetes"])["in_slice"] is True
    assert explain(client, str(k8s_id), "", any_tag=["go", "docker"])["in_slice"] is False
    helm = explain(client, "https://blog.deeeet.com/helm", "site:deeeet.com date:>=2024-06-06 tag:nothing")
    assert [t["matches"] for t in helm["terms"]] == [True, True, False] and helm["in_slice"] is False
    assert helm["terms"][0]["evidence"] == {"site": "blog.deeeet.com"}


def test_explain_an_unknown_item_is_a_404(client: TestClient) -> None:
    for item in ("999999", "https://nowhere.example/"):
        answer = client.get("/api/explain", params={"item": item, "filter": "tag:go"})
        assert answer.status_code == 404 and answer.json()["error"] == "not_found"
    assert client.get("/api/explain", params={"filter": "tag:go"}).status_code == 422


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with polled_samples(tmp_path_factory.mktemp("explain"), extras=False) as (_engine, _config, client):
        yield client


def test_explain_an_item_of_the_sample_feeds_seen_by_several_sources(samples: TestClient) -> None:
    """The GPU article: in the deeeet.com blog, its Hatena site feed, the kubernetes and docker tag
    feeds and umiyosh's bookmarks (feeds/samples), with 166 bookmarks."""
    link = "https://deeeet.com/writing/2018/01/15/kubernetes-gpu/"
    body = explain(samples, link, "tag:k8s -tag:docker bookmarks:>=500 user:umiyosh site:deeeet.com GPU")
    assert body["title"] == "KubernetesでGPUを使う" and body["in_slice"] is False
    terms = {t["term"]: t for t in body["terms"]}
    kubernetes = terms["tag:k8s"]["evidence"]
    assert terms["tag:k8s"]["holds"] and kubernetes["tag"] == "kubernetes"
    assert "はてなブックマーク: kubernetes タグ (tag)" in kubernetes["sources"]  # its configured tag
    assert "SOTA (deeeet.com) (feed)" not in kubernetes["sources"]  # the blog's own entry has no such tag
    docker = terms["tag:docker"]
    assert (docker["negated"], docker["matches"], docker["holds"]) == (True, True, False)
    assert "はてなブックマーク: docker タグ (tag)" in docker["evidence"]["sources"]
    assert terms["bookmarks:>=500"]["evidence"] == {"count": 166} and not terms["bookmarks:>=500"]["holds"]
    (seen,) = terms["user:umiyosh"]["evidence"]["sightings"]
    assert seen["source"] == "はてなブックマーク: umiyosh のブックマーク (user)" and seen["user"] == "umiyosh"
    assert terms["site:deeeet.com"]["evidence"] == {"site": "deeeet.com"}
    assert terms["GPU"]["holds"] and "title" in terms["GPU"]["evidence"]["fields"]
    kept = explain(samples, link, "tag:kubernetes tag:docker bookmarks:100..200 user:umiyosh")
    assert kept["in_slice"] is True and all(t["holds"] for t in kept["terms"])
