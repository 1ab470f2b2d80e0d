"""HEAD on every GET route of the app, found by walking ``app.routes``: the GET's
status and headers, no body, conditional requests answered 304 as on GET."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import timedelta
from itertools import product

import pytest
from sqlalchemy import func, select
from starlette.routing import BaseRoute, Mount
from test_api import TestClient, client_for, polled_samples

from aggregator.archives import Month
from aggregator.models import Item, table_of

ITEM = table_of(Item)

# A value for each path parameter; a route with a parameter not named here fails the test,
# so a new route gets a real request rather than being skipped.
PATH_VALUES: dict[str, tuple[str, ...]] = {
    "ext": ("atom", "rss", "json"),
    "tag": ("kubernetes",),
    "host": ("deeeet.com",),
    "slug": ("k8s-popular", "golang-not-docker"),
    "id": ("1",),  # the first item polled
    "key": (),  # an archive: the month the samples were stored in, set by the ``client`` fixture
}
# The query a route cannot answer without (an item to explain).
REQUIRED_QUERY = {"/api/explain": "?item=1&filter=tag:kubernetes"}
# A file under each mount, for the same reason.
MOUNT_FILES = {"/docs/static": ("swagger-ui-bundle.js", "swagger-ui.css")}
SAME_HEADERS = ("content-type", "etag", "last-modified", "cache-control", "content-length")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with polled_samples(tmp_path_factory.mktemp("head"), extras=False) as (engine, config, _):
        with engine.connect() as conn:
            stored = Month.of(conn.execute(select(func.min(ITEM.c.first_seen))).scalar_one())
        PATH_VALUES["key"] = (stored.key,)
        # A day into the next month, the month the samples were stored in is an archive.
        with client_for(engine, config, stored.end + timedelta(days=1)) as c:
            yield c


def urls_of(route: BaseRoute) -> list[str]:
    """Concrete URLs for a GET route or a mount; [] for anything that answers no GET."""
    if isinstance(route, Mount):
        assert route.path in MOUNT_FILES, f"no sample file for the mount {route.path}"
        return [f"{route.path}/{name}" for name in MOUNT_FILES[route.path]]
    methods = getattr(route, "methods", None) or ()
    if "GET" not in methods:
        return []
    path: str = getattr(route, "path")  # noqa: B009  (every route with methods has a path)
    names = re.findall(r"{(\w+)(?::\w+)?}", path)
    missing = [n for n in names if n not in PATH_VALUES]
    assert not missing, f"no sample value for {missing} in {path}"
    urls = []
    for values in product(*(PATH_VALUES[n] for n in names)):
        url = path
        for name, value in zip(names, values, strict=True):
            url = re.sub(r"{" + name + r"(?::\w+)?}", value, url)
        urls.append(url + REQUIRED_QUERY.get(path, ""))
    return urls


def flat_routes(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, those of included routers too (newer FastAPI keeps an included router whole)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is None:
            yield route
        else:  # no prefix on our includes; one would show as a 404 below, not a skipped route
            yield from flat_routes(included.routes)


def every_get_url(client: TestClient) -> list[str]:
    routes = client.app.routes  # type: ignore[attr-defined]
    urls = [url for route in flat_routes(routes) for url in urls_of(route)]
    for expected in ("/", "/healthz", "/api/items", "/docs", "/openapi.json", "/feeds/all.atom"):
        assert expected in urls
    return urls


def test_every_get_route_answers_head(client: TestClient) -> None:
    for url in every_get_url(client):
        get = client.get(url)
        head = client.head(url)
        assert get.status_code == 200, url
        assert head.status_code == get.status_code, url
        assert head.content == b"", url
        for name in SAME_HEADERS:
            if url == "/metrics" and name == "content-length":
                continue  # the metrics count the GET just made: the next body is longer
            assert head.headers.get(name) == get.headers.get(name), (url, name)


def test_head_with_if_none_match_is_304(client: TestClient) -> None:
    with_etag = [url for url in every_get_url(client) if "etag" in client.get(url).headers]
    assert any(url.startswith("/feeds/") for url in with_etag)
    assert any(url.startswith("/docs/static/") for url in with_etag)
    for url in with_etag:
        etag = client.get(url).headers["etag"]
        head = client.head(url, headers={"If-None-Match": etag})
        assert head.status_code == 304, url
        assert head.content == b"" and head.headers["etag"] == etag, url


def test_head_of_errors_keeps_the_status(client: TestClient) -> None:
    for url, status in [
        ("/feeds/no-such-output.atom", 404),
        ("/feeds/all.atom?limit=0", 422),
        ("/api/items?min_bookmarks=many", 422),
        ("/tag/%2e%2e", 404),
    ]:
        get = client.get(url)
        head = client.head(url)
        assert (get.status_code, head.status_code) == (status, status), url
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.content == b""


def test_other_methods_are_still_refused(client: TestClient) -> None:
    assert client.post("/api/items").status_code == 405
    assert client.delete("/feeds/all.atom").status_code == 405
