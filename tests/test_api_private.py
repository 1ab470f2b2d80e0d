"""Private sources and outputs through the HTTP service: nothing a private source said reaches a
public answer, and a private output shows it only to a live token.

The public routes are walked from the application's route table, so a route added later is
walked too (a path parameter the walk cannot fill fails the test until it is taught).
"""

from __future__ import annotations

import io
import json
import logging
import re
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from privatefeeds import (
    MARKERS,
    NOW,
    PRIVATE_OUTPUT,
    PUBLIC_OUTPUT,
    SECRET_PATH,
    SHARED_LINK,
    Polled,
    polled_private,
)
from sqlalchemy import select
from sqlalchemy.engine import Engine
from starlette.routing import Mount, Route

from aggregator.api import create_app
from aggregator.logformat import LogFormat, configure_logging
from aggregator.models import BookmarkPoint, Item, Source, Tag, table_of
from aggregator.store.common import transaction
from aggregator.store.tokens import revoke_token

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ITEM = table_of(Item)
POINT = table_of(BookmarkPoint)
SOURCE = table_of(Source)
TAG = table_of(Tag)
FORMATS = ("atom", "rss", "json")
WRONG = "not-a-token-0123456789"


@pytest.fixture
def polled(engine: Engine) -> Iterator[Polled]:
    with polled_private(engine) as data:
        yield data


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Log lines written here for the test, the logging set-up as it was afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("aggregator").level)
    try:
        yield io.StringIO()
    finally:
        root.handlers, root.level = saved[0], saved[1]
        logging.getLogger("aggregator").setLevel(saved[2])


def client(polled: Polled, now: datetime = NOW) -> TestClient:
    return TestClient(create_app(polled.engine, polled.config, clock=lambda: now))


def path_values(polled: Polled) -> dict[str, list[str]]:
    """Every value a path parameter may take, from the data: private ones included."""
    with polled.engine.connect() as conn:
        items = list(conn.execute(select(ITEM.c.id, ITEM.c.site)))
        stored = list(conn.execute(select(ITEM.c.first_seen)).scalars())
        tags = list(conn.execute(select(TAG.c.name, TAG.c.display)))
        sources = [str(i) for i in conn.execute(select(SOURCE.c.id)).scalars()]
    ids = [str(i) for i, _ in items]
    return {
        "tag": sorted({t for pair in tags for t in pair}),
        "host": sorted({site for _, site in items if site}),
        "slug": [o.slug for o in polled.config.outputs] + ["no-such-feed"],
        "ext": list(FORMATS),
        "id": ids,
        "item_id": ids,
        "source": sources,
        "source_id": sources,
        # archive months: those the items were stored in, and their neighbours
        "key": sorted({f"{d + timedelta(days=shift):%Y-%m}" for d in stored for shift in (-31, 0, 31)}),
    }


def flat_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, Route]]:
    """(path, route) of every route, included routers opened (FastAPI keeps them whole since 0.16x)."""
    flat: list[tuple[str, Route]] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            flat += flat_routes(list(included.routes), prefix + route.include_context.prefix)
        elif isinstance(route, Route):
            flat.append((prefix + route.path, route))
        else:
            assert isinstance(route, Mount), route  # static files: the API docs' assets
    return flat


def public_urls(app_routes: list[Any], values: dict[str, list[str]]) -> list[str]:
    """Each GET route of the table with its path parameters filled every way the data allows."""
    urls: list[str] = []
    for path, route in flat_routes(app_routes):
        if "GET" not in (route.methods or ()):
            continue
        paths = [path]
        for name in re.findall(r"{(\w+)(?::\w+)?}", route.path):
            assert name in values, f"{path}: the leak walk cannot fill {{{name}}}: teach path_values"
            paths = [
                re.sub(rf"{{{name}(?::\w+)?}}", quote(value, safe=""), p, count=1)
                for p in paths
                for value in values[name]
            ]
        urls += paths
    return urls


def leaks(text: str, url: str) -> list[str]:
    """The markers in ``text`` that the request did not itself carry (an echo is no leak)."""
    said = url.lower()
    return [m for m in MARKERS if m.lower() in text.lower() and m.lower() not in said]


def test_no_public_route_shows_what_a_private_source_said(polled: Polled) -> None:
    with client(polled, NOW + timedelta(days=45)) as c:  # the items' month has ended: archived
        app_routes = list(c.app.routes)  # type: ignore[attr-defined]
        values = path_values(polled)
        urls = public_urls(app_routes, values)
        with polled.engine.connect() as conn:
            private_id, private_url = conn.execute(
                select(SOURCE.c.id, SOURCE.c.url).where(SOURCE.c.private.is_(True))
            ).one()
        assert SECRET_PATH in private_url
        variants = [
            "",
            f"?token={WRONG}",
            f"?source={private_id}",
            f"?source={quote(private_url)}",
            "?q=zcomment",
        ]
        shown: dict[str, str] = {}
        for url in urls:
            for query in variants:
                for headers in ({}, {"Authorization": f"Bearer {WRONG}"}):
                    response = c.get(url + query, headers=headers)
                    assert response.status_code < 500, (url + query, response.text[:200])
                    seen = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
                    assert leaks(seen, url + query) == [], (url + query, headers, response.text[:300])
                    if response.status_code == 200 and not query and not headers:
                        shown[url] = response.text
    assert any(u.startswith("/feeds/tag/") for u in urls) and any(u.startswith("/api/") for u in urls)
    assert f"/feeds/{PRIVATE_OUTPUT}.atom" in urls and "/opml.xml" in urls and "/" in urls
    # The walk read the public data: it is there, only the private source's is not.
    assert "Shared article" in shown["/feeds/all.json"] and "Public only" in shown["/api/items"]
    assert "golang" in shown["/api/tags"] and "public.rss" in shown["/api/sources"]


def test_the_public_sees_the_shared_item_as_the_public_feed_tells_it(polled: Polled) -> None:
    with client(polled) as c:
        page = c.get("/api/items").json()["items"]
        tags = {t["name"] for t in c.get("/api/tags").json()}
        sources = c.get("/api/sources").json()
        catalog = c.get("/opml.xml").text
        home = c.get("/").text
    shared = [i for i in page if i["link"] == SHARED_LINK]
    assert [i["title"] for i in page] == ["Shared article", "Public only"]
    assert shared[0]["bookmark_count"] is None and shared[0]["tags"] == ["golang"]
    assert [s["user"] for s in shared[0]["sources"]] == [None]
    assert tags == {"golang"}
    assert [s["kind"] for s in sources] == ["feed"]
    assert f"/feeds/{PUBLIC_OUTPUT}.atom" in catalog and PRIVATE_OUTPUT not in catalog
    assert f"/feeds/{PUBLIC_OUTPUT}" in home and PRIVATE_OUTPUT not in home


@pytest.mark.parametrize("how", ["query", "bearer"])
def test_the_private_output_shows_the_private_source_to_its_token(polled: Polled, how: str) -> None:
    query, headers = (
        (f"?token={polled.token}", {})
        if how == "query"
        else ("", {"Authorization": f"Bearer {polled.token}"})
    )
    with client(polled) as c:
        feed = c.get(f"/feeds/{PRIVATE_OUTPUT}.json{query}", headers=headers)
        filtered = c.get(f"/feeds/quokka-list.json?token={polled.token}")
    assert feed.status_code == 200, feed.text
    items = feed.json()["items"]
    assert [i["title"] for i in items] == ["Zanzibar plans", "Shared article", "Public only"]
    assert set(items[0]["tags"]) == {"zanzibartag"} and set(items[1]["tags"]) == {"golang", "quokkatag"}
    assert "zuser: zcomment about it" in feed.text  # the note of an item known only from a bookmark
    assert feed.headers["cache-control"] == "private, no-cache"
    assert filtered.status_code == 404  # a token opens its own output only


def test_a_missing_wrong_or_revoked_token_gets_the_404_of_an_unknown_feed(polled: Polled) -> None:
    with client(polled) as c:
        unknown = c.get("/feeds/no-such-feed.atom")
        answers = [
            c.get(f"/feeds/{PRIVATE_OUTPUT}.atom"),
            c.get(f"/feeds/{PRIVATE_OUTPUT}.atom?token={WRONG}"),
            c.get(f"/feeds/{PRIVATE_OUTPUT}.atom", headers={"Authorization": f"Bearer {WRONG}"}),
        ]
        assert c.get(f"/feeds/{PRIVATE_OUTPUT}.atom?token={polled.token}").status_code == 200
        with transaction(polled.engine) as conn:
            assert revoke_token(conn, polled.token_id)
        answers.append(c.get(f"/feeds/{PRIVATE_OUTPUT}.atom?token={polled.token}"))
    expected = unknown.json()["message"].replace("no-such-feed", PRIVATE_OUTPUT)
    for answer in answers:
        assert answer.status_code == 404
        assert answer.json() == {"error": "not_found", "message": expected}
        assert set(answer.headers) == set(unknown.headers)


def test_a_private_answer_is_never_replayed_without_its_token(polled: Polled) -> None:
    """The fast path answers by URL alone: a private answer, even at the same URL, never goes there."""
    url = f"/feeds/{PRIVATE_OUTPUT}.atom"
    bearer = {"Authorization": f"Bearer {polled.token}"}
    with client(polled) as c:
        for _ in range(3):  # rendered, then found in the slice cache
            assert "Zanzibar" in c.get(url, headers=bearer).text
            assert "Zanzibar" in c.get(f"{url}?token={polled.token}").text
        refused = c.get(url)
        etag = c.get(url, headers=bearer).headers["etag"]
        conditional = c.get(url, headers={"If-None-Match": etag})
        with transaction(polled.engine) as conn:
            revoke_token(conn, polled.token_id)
        after = [c.get(f"{url}?token={polled.token}"), c.get(url, headers=bearer)]
        served = c.app.state.settings.answers.served  # type: ignore[attr-defined]
    assert refused.status_code == 404 and "Zanzibar" not in refused.text
    assert conditional.status_code == 404
    assert [a.status_code for a in after] == [404, 404]
    assert served == 0


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_log_line_holds_a_token(polled: Polled, fmt: LogFormat, stream: io.StringIO) -> None:
    """Every line, ours and the libraries' (the HTTP client's request lines, an access log line
    as uvicorn writes it), goes through the redacting formatter, verbose included."""
    logging.getLogger().handlers = []
    configure_logging(fmt, verbose=True, stream=stream)
    # As ``aggregator serve`` leaves uvicorn's loggers: an in-process server that an earlier test
    # started with uvicorn's own logging configuration gave them handlers and stopped propagation.
    for name in ("uvicorn", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate, logger.disabled = [], True, False
        logger.setLevel(logging.NOTSET)
    access = logging.getLogger("uvicorn.access")
    url = f"/feeds/{PRIVATE_OUTPUT}.atom?token={polled.token}"
    with client(polled) as c:
        assert c.get(url).status_code == 200
        assert c.get(
            f"/feeds/{PRIVATE_OUTPUT}.atom", headers={"Authorization": f"Bearer {polled.token}"}
        ).is_success
        assert c.get(f"{url}&limit=bad").status_code == 422
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", url, "1.1", 200)
    logged = stream.getvalue()
    assert polled.token not in logged
    assert logged.count("token=***") >= 3  # the client's two request lines, and the access line
    if fmt == "json":
        assert all(json.loads(line) for line in logged.splitlines())


def test_a_private_sources_counts_never_make_an_item_rise_in_public(polled: Polled) -> None:
    rising = "sort=rising&window=24h"
    later = NOW + timedelta(minutes=30)
    with polled.engine.begin() as conn:  # the private source's next poll saw 43 more bookmarks
        private_id = conn.execute(select(SOURCE.c.id).where(SOURCE.c.private.is_(True))).scalar_one()
        shared = conn.execute(select(ITEM.c.id).where(ITEM.c.link == SHARED_LINK)).scalar_one()
        conn.execute(POINT.insert().values(item_id=shared, source_id=private_id, at=later, count=123500))
    try:
        with client(polled, NOW + timedelta(hours=1)) as c:  # both points are inside the window
            for url in ("/", "/tag/golang", "/feeds/all.json", "/feeds/tag/golang.atom", "/api/items"):
                response = c.get(f"{url}?{rising}")
                assert response.status_code == 200, (url, response.text[:200])
                assert leaks(response.text, url) == [], url
                assert SHARED_LINK not in response.text  # no public source gave it a count: it did not rise
            mine = c.get(f"/feeds/{PRIVATE_OUTPUT}.json?{rising}&token={polled.token}").json()["items"]
    finally:
        with polled.engine.begin() as conn:
            conn.execute(POINT.delete().where(POINT.c.at == later))
    # With the token, the private source's counts count: 123457, then 123500.
    assert [i["url"] for i in mine] == [SHARED_LINK]


def test_filter_terms_and_explain_see_only_what_public_sources_said(polled: Polled) -> None:
    with polled.engine.connect() as conn:
        private_id = conn.execute(select(SOURCE.c.id).where(SOURCE.c.private.is_(True))).scalar_one()
        secret_item = conn.execute(
            select(ITEM.c.id).where(ITEM.c.link == "https://secret.example/zanzibar-post")
        ).scalar_one()
    queries = [
        "user:quser",
        "tag:quokkatag OR tag:zanzibartag",
        f"source:{private_id}",
        "-tag:golang user:zuser",
    ]
    with client(polled) as c:
        for query in queries:
            response = c.get("/api/items", params={"filter": query})
            assert response.status_code == 200 and response.json()["items"] == [], query
        explained = c.get("/api/explain", params={"filter": "user:quser tag:quokkatag", "item": SHARED_LINK})
        assert (
            c.get("/api/explain", params={"filter": "tag:golang", "item": str(secret_item)}).status_code
            == 404
        )
        mine = c.get(
            f"/feeds/{PRIVATE_OUTPUT}.json", params={"filter": "user:quser", "token": polled.token}
        ).json()
    body = explained.json()
    assert body["in_slice"] is False and [t["matches"] for t in body["terms"]] == [False, False]
    assert leaks(explained.text, "user:quser tag:quokkatag") == []  # the query it echoes is no leak
    assert [i["url"] for i in mine["items"]] == [SHARED_LINK]  # with the token, the private user's item
