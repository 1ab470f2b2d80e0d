"""``api.fastpath``: a feed asked for again, while nothing changed, is answered
before routing with exactly what the route answered; any change, and anything
the fast path does not decide, goes back to the route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from httpx import Response
from sqlalchemy import text
from test_api import TestClient, polled_samples

from aggregator.store.common import bump_data_version, transaction

FEED = "/feeds/tag/kubernetes.atom"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with polled_samples(tmp_path_factory.mktemp("fastpath"), extras=False) as (_, _, client):
        yield client


def routed(client: TestClient) -> int:
    """How many feed requests reached the route (each one looks in the slice cache)."""
    cache = client.app.state.settings.cache  # type: ignore[attr-defined]
    return int(cache.hits + cache.renders)


def same(a: Response, b: Response) -> bool:
    return (a.status_code, a.content, sorted(a.headers.items())) == (
        b.status_code,
        b.content,
        sorted(b.headers.items()),
    )


@pytest.mark.parametrize("path", [FEED, "/feeds/all.json", "/feeds/all.rss?min_bookmarks=100&ext=1"])
def test_a_repeated_get_is_answered_the_same_without_the_route(client: TestClient, path: str) -> None:
    first = client.get(path)
    assert first.status_code == 200 and first.content
    before = routed(client)
    again = [client.get(path) for _ in range(3)]
    assert routed(client) == before
    assert all(same(first, r) for r in again)


def test_a_matching_etag_gets_the_routes_304(client: TestClient) -> None:
    etag = client.get(FEED).headers["etag"]
    before = routed(client)
    fast = client.get(FEED, headers={"If-None-Match": etag})
    assert routed(client) == before
    # A list of tags is the route's to compare: it answers the same 304.
    slow = client.get(FEED, headers={"If-None-Match": f'"other", {etag}'})
    assert routed(client) == before + 1
    assert fast.status_code == slow.status_code == 304
    assert fast.content == slow.content == b""
    assert sorted(fast.headers.items()) == sorted(slow.headers.items())


def test_a_stale_etag_gets_the_feed(client: TestClient) -> None:
    first = client.get(FEED)
    stale = client.get(FEED, headers={"If-None-Match": '"0000"'})
    assert same(first, stale)


def test_if_modified_since_alone_is_compared_by_the_route(client: TestClient) -> None:
    last_modified = client.get(FEED).headers["last-modified"]
    assert client.get(FEED, headers={"If-Modified-Since": last_modified}).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get(FEED, headers={"If-Modified-Since": old}).status_code == 200


def test_the_answer_belongs_to_its_host_and_query(client: TestClient) -> None:
    a = client.get(FEED, headers={"Host": "a.example"})
    b = client.get(FEED, headers={"Host": "b.example"})
    assert b"http://a.example/feeds/tag/kubernetes.atom" in a.content
    assert b"http://b.example/feeds/tag/kubernetes.atom" in b.content
    assert b"a.example" not in b.content
    assert client.get(FEED + "?min_bookmarks=100000").content != a.content


def test_head_is_answered_without_a_body(client: TestClient) -> None:
    get = client.get(FEED)
    head = client.head(FEED)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["etag"] == get.headers["etag"]


def test_a_refused_query_is_never_remembered(client: TestClient) -> None:
    for _ in range(2):
        response = client.get("/feeds/all.atom?min_bookmarks=many")
        assert response.status_code == 422
        assert response.json()["parameter"] == "min_bookmarks"


def test_a_write_is_seen_by_the_next_request(tmp_path: Path) -> None:
    with polled_samples(tmp_path, extras=False) as (engine, _, client):
        first = client.get(FEED)
        assert client.get(FEED).content == first.content
        with transaction(engine) as conn:
            conn.execute(text("UPDATE item SET title = 'Retitled by a poll', version = version + 1"))
            bump_data_version(conn)
        second = client.get(FEED)
        assert second.status_code == 200
        assert b"Retitled by a poll" in second.content
        assert second.headers["etag"] != first.headers["etag"]
        assert client.get(FEED, headers={"If-None-Match": first.headers["etag"]}).status_code == 200
        assert client.get(FEED, headers={"If-None-Match": second.headers["etag"]}).status_code == 304
