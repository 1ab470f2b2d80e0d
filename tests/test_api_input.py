"""API input hardening: SQL-looking values, LIKE wildcards, traversal, oversized requests, fuzzing.

The demo samples are served by a local FeedServer and ingested by the real
poller; requests go through TestClient, straight to the ASGI app (for targets
an HTTP client would rewrite or refuse), or over a socket to a real uvicorn.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import tomllib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from feedserver import FeedServer
from procs import UvicornThread, get_raw, raw_request, status_of
from sqlalchemy import select
from sqlalchemy.engine import Engine

from aggregator.api import create_app
from aggregator.config import Config, parse_config
from aggregator.db import make_engine
from aggregator.filters import PARAMS
from aggregator.models import Item, ItemTag, Meta, RunLock, Sighting, Source, Tag, table_of
from aggregator.poller import Poller

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette warns once that it prefers httpx2 over httpx
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "feeds" / "samples"
DEMO = ROOT / "feeds" / "demo.toml"
TABLES = [table_of(m) for m in (Item, ItemTag, Meta, RunLock, Sighting, Source, Tag)]

SQLISH = [
    "' OR 1=1 --",
    '"; DROP TABLE item; --',
    "%' --",
    "') UNION SELECT key, key FROM item --",
    "1; DELETE FROM source",
    "\\",
]
WILDCARDS = ["%", "_", "%%", "%_%"]


# --------------------------------------------------------------------------- fixtures and helpers


def demo_config(base_url: str) -> Config:
    raw = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    for source in raw["sources"]:
        source["url"] = base_url + "/" + source["url"].rsplit("/", 1)[1]
    return parse_config(raw, DEMO)


def ingest(engine: Engine) -> Config:
    with FeedServer() as srv:
        for sample in SAMPLES.iterdir():
            srv.route("/" + sample.name, sample.read_bytes())
        config = demo_config(srv.base_url)
        report = asyncio.run(Poller(engine, config).run_once(force=True))
    assert len(report.outcomes) == len(config.sources)
    failed = [o for o in report.outcomes if o.status not in ("new", "updated")]
    assert [(o.url.rsplit("/", 1)[1], o.category) for o in failed] == [("broken.xml", "not_a_feed")]
    return config


@pytest.fixture
def demo(engine: Engine) -> tuple[Engine, Config]:
    return engine, ingest(engine)


@pytest.fixture
def sqlite_demo(sqlite_url: str) -> Iterator[tuple[Engine, Config]]:
    engine = make_engine(sqlite_url)
    yield engine, ingest(engine)
    engine.dispose()


def client_for(engine: Engine, config: Config) -> TestClient:
    return TestClient(create_app(engine, config), raise_server_exceptions=False)


def snapshot(engine: Engine) -> dict[str, Any]:
    """Every row of every table, in a stable order."""
    with engine.connect() as conn:
        return {t.name: sorted(tuple(str(v) for v in row) for row in conn.execute(select(t))) for t in TABLES}


def asgi_get(app: Any, target: str, headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, bytes]:
    """One GET straight into the ASGI app, the target exactly as given (decoded as uvicorn does)."""
    raw_path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def call() -> None:
        try:
            await app(scope, receive, send)
        except Exception:
            if not sent:  # the error middleware re-raises only after it has answered 500
                raise

    asyncio.run(call())
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(start["status"]), body


def item_texts(engine: Engine) -> list[tuple[str, ...]]:
    """Each item's title, summary and content (what ``q`` searches), lowered."""
    item = table_of(Item)
    with engine.connect() as conn:
        rows = conn.execute(select(item.c.title, item.c.summary, item.c.content))
        return [tuple((text or "").lower() for text in row) for row in rows]


# --------------------------------------------------------------------------- SQL-looking input


def test_sql_looking_values_are_only_data(demo: tuple[Engine, Config]) -> None:
    engine, config = demo
    before = snapshot(engine)
    client = client_for(engine, config)
    baseline = client.get("/api/items", params={"limit": "500"}).json()["items"]
    assert len(baseline) > 20
    texts = item_texts(engine)

    for payload in SQLISH:
        containing = sum(1 for row in texts if any(payload.lower() in text for text in row))
        for name in (*PARAMS, "cursor"):
            for path in ("/api/items", "/feeds/all.json"):
                limit = {} if name == "limit" else {"limit": "500"}
                response = client.get(path, params={name: payload, **limit})
                assert response.status_code in (200, 422), (path, name, payload, response.text)
                if response.status_code == 422:
                    body = response.json()
                    if name == "filter":  # a query that does not parse: where it went wrong
                        assert body["error"] == "invalid_filter" and 0 <= body["position"] <= len(payload)
                    else:
                        assert body["parameter"] == name
                    continue
                items = response.json()["items"]
                if name in ("tag", "any_tag"):
                    assert items == [], (path, name, payload)
                elif name == "q":
                    assert len(items) == containing, (path, payload)
                elif name == "not_tag":
                    assert len(items) == len(baseline), (path, name, payload)
        quoted = quote(payload, safe="")
        for path, allowed in (
            (f"/feeds/tag/{quoted}.atom", {200, 404, 422}),
            (f"/feeds/site/{quoted}.atom", {404, 422}),
            (f"/feeds/{quoted}.atom", {404}),
            (f"/tag/{quoted}", {200, 404, 422}),
            (f"/site/{quoted}", {404, 422}),
        ):
            status, body = asgi_get(client.app, path)
            assert status in allowed, (path, status, body[:200])
            if status == 200:
                assert b"<entry" not in body and b'class="title"' not in body, path

    assert client.get("/api/items", params={"limit": "500"}).json()["items"] == baseline
    assert snapshot(engine) == before


def test_like_wildcards_in_q_are_literal(demo: tuple[Engine, Config]) -> None:
    engine, config = demo
    client = client_for(engine, config)
    texts = item_texts(engine)
    assert not any("%" in text for row in texts for text in row)
    assert any("_" in text for row in texts for text in row)
    assert len(texts) > sum(1 for row in texts if any("_" in text for text in row))
    for q in WILDCARDS:
        expected = sum(1 for row in texts if any(q in text for text in row))
        items = client.get("/api/items", params={"q": q, "limit": "500"}).json()["items"]
        assert len(items) == expected, (q, len(items))
        for item in items:
            searched = (item["title"], item["summary"] or "", item["content"] or "")
            assert any(q in text.lower() for text in searched), (q, item["title"])
        feed = client.get("/feeds/all.json", params={"q": q, "limit": "500"})
        assert feed.status_code == 200
        assert len(feed.json()["items"]) == expected, q
    assert client.get("/api/items", params={"q": "%"}).json()["items"] == []
    for target in ("/feeds/tag/%25.atom", "/feeds/tag/_.atom", "/feeds/all.atom?q=%25"):
        status, body = asgi_get(client.app, target)
        assert status == 200 and b"<entry" not in body, target


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


OUT_OF_RANGE = [
    "/api/items?cursor=" + _cursor("2024-01-01T00:00:00.000000|99999999999999999999999"),
    "/api/items?cursor=" + _cursor("2024-01-01T00:00:00.000000|-1"),
    "/api/items?cursor=" + _cursor("2024-01-01T00:00:00.000000|0"),
    "/api/items?cursor=" + _cursor("9999-12-31T23:59:59.999999|1"),
    "/api/items?cursor=" + _cursor("0001-01-01T00:00:00.000000|1"),
    "/api/items?cursor=" + _cursor("2024-01-01T00:00:00+14:00|1"),
    "/api/items?cursor=" + _cursor("2024-01-01|1|2"),
    "/api/items?since=9999-12-31T23:59:59-14:00",
    "/api/items?until=0001-01-01T00:00:00%2B14:00",
    "/api/items?since=9999-12-31T23:59:59.999999",
    "/api/items?since=0001-01-01",
    "/api/items?until=9999-12-31",
    "/api/items?since=999999w",
    "/api/items?since=999999d",
    "/api/items?until=0m",
    "/api/items?min_bookmarks=999999999",
    "/api/items?limit=999999999",
    "/api/items?limit=0",
    "/api/items?source=999999999999",
    "/api/items?source=0",
    "/feeds/all.atom?since=9999-12-31T23:59:59-14:00",
    "/feeds/all.rss?until=0001-01-01T00:00:00%2B14:00",
    "/feeds/all.json?until=0001-01-02",
    "/feeds/tag/golang.atom?since=0001-01-01&until=9999-12-31",
    "/tag/golang?since=9999-12-31T23:59:59-14:00",
]


def test_out_of_range_values_are_refused_or_answered(demo: tuple[Engine, Config]) -> None:
    engine, config = demo
    app = create_app(engine, config)
    for target in OUT_OF_RANGE:
        status, body = asgi_get(app, target)
        assert status in (200, 422), (target, status, body[:300])


def _ids(client: TestClient, **params: Any) -> set[int]:
    response = client.get("/api/items", params={**params, "limit": "500"})
    assert response.status_code == 200, (params, response.text)
    return {item["id"] for item in response.json()["items"]}


def test_combined_tag_filters_answer(demo: tuple[Engine, Config]) -> None:
    engine, config = demo
    client = client_for(engine, config)
    golang, docker, kubernetes = (_ids(client, tag=t) for t in ("golang", "docker", "kubernetes"))
    assert golang & docker and golang - docker and kubernetes
    assert _ids(client, tag=["golang", "docker"]) == golang & docker
    assert _ids(client, tag="golang", not_tag="docker") == golang - docker
    assert _ids(client, tag="golang", any_tag=["docker", "kubernetes"]) == golang & (docker | kubernetes)
    assert _ids(client, any_tag=["docker", "kubernetes"], not_tag="golang") == (docker | kubernetes) - golang
    feed = client.get("/feeds/tag/golang.json", params={"not_tag": "docker", "limit": "500"})
    assert feed.status_code == 200 and len(feed.json()["items"]) == len(golang - docker)
    for output in config.outputs:
        for ext in ("atom", "rss", "json"):
            response = client.get(f"/feeds/{output.slug}.{ext}")
            assert response.status_code == 200, (output.slug, ext, response.text[:200])
    named = client.get("/feeds/golang-not-docker.json", params={"limit": "500"}).json()["items"]
    assert len(named) == len(golang - docker)


# --------------------------------------------------------------------------- path traversal

TRAVERSAL = [
    "/feeds/..%2F..%2Fetc%2Fpasswd.atom",
    "/feeds/..%2f..%2f..%2f..%2fetc%2fpasswd.atom",
    "/feeds/tag/..%2f..%2fetc.atom",
    "/feeds/tag/%2e%2e.atom",
    "/feeds/tag/%2e%2e%2f%2e%2e%2fetc%2fpasswd.atom",
    "/feeds/tag/a%00b.atom",
    "/feeds/tag/..%5c..%5cetc.atom",
    "/feeds/site/..%2f..%2fetc.atom",
    "/feeds/site/%2e%2e.atom",
    "/feeds/a%00b.atom",
    "/feeds/%00.atom",
    "/feeds/%2e%2e.atom",
    "/feeds/all.atom%00",
    "/tag/%2e%2e%2f",
    "/tag/..%2f",
    "/tag/%2e%2e",
    "/tag/a%00b",
    "/site/%2e%2e%2f",
    "/site/..%2f..%2fetc%2fpasswd",
    "/static/..%2f..%2f..%2fetc%2fpasswd",
    "/static/%2e%2e/%2e%2e/etc/passwd",
]


def _no_file_content(body: bytes) -> bool:
    return b"root:" not in body and b"[aggregator]" not in body and b"[[sources]]" not in body


def test_path_traversal_is_refused_in_process(demo: tuple[Engine, Config]) -> None:
    engine, config = demo
    app = create_app(engine, config)
    for target in TRAVERSAL:
        status, body = asgi_get(app, target)
        assert status in (404, 422), (target, status, body[:200])
        assert _no_file_content(body), target


def test_path_traversal_is_refused_over_the_wire(sqlite_demo: tuple[Engine, Config]) -> None:
    engine, config = sqlite_demo
    with UvicornThread(create_app(engine, config)) as server:
        for target in TRAVERSAL:
            reply = get_raw(server.port, target)
            assert status_of(reply) in (404, 422), (target, reply[:300])
            assert _no_file_content(reply), target
        assert status_of(get_raw(server.port, "/healthz")) == 200


# --------------------------------------------------------------------------- oversized requests


def _oversized_targets() -> list[str]:
    big = "a" * 100_000
    spread = "&".join(f"q{n}={'b' * 90}" for n in range(1000))
    tags = "&".join(f"tag=t{n}" for n in range(1000))
    unknown = "&".join(f"unknown{n}=1" for n in range(500))
    targets = []
    for path in ("/api/items", "/feeds/all.atom", "/feeds/tag/kubernetes.rss", "/tag/kubernetes"):
        targets += [f"{path}?q={big}", f"{path}?{spread}", f"{path}?{tags}", f"{path}?{unknown}"]
    targets += [f"/feeds/tag/{big}.atom", f"/feeds/site/{big}.atom", f"/feeds/{big}.atom", f"/tag/{big}"]
    targets += [f"/api/items?cursor={big}", f"/api/items?source={big}", f"/api/items?since={big}"]
    return targets


def test_huge_requests_in_process(demo: tuple[Engine, Config]) -> None:
    engine, config = demo
    app = create_app(engine, config)
    for target in _oversized_targets():
        status, body = asgi_get(app, target)
        assert 400 <= status < 500, (target[:80], status, body[:200])
    long_value = b"x" * 65_536
    for name in (b"x-long", b"if-none-match", b"user-agent"):
        for target in ("/healthz", "/feeds/all.atom", "/api/items", "/tag/golang"):
            status, body = asgi_get(app, target, headers=[(name, long_value)])
            assert status == 431, (name, target, status, body[:200])
    many = [(f"x-many-{n}".encode(), b"y" * 60) for n in range(1000)]
    assert asgi_get(app, "/api/items", headers=many)[0] == 431
    client = client_for(engine, config)
    assert client.get("/api/items", params=[("tag", f"t{n}") for n in range(1000)]).status_code == 422
    assert client.get("/api/items", params={f"x{n}": "1" for n in range(500)}).status_code == 422
    assert client.get("/healthz", headers={"X-Ordinary": "y" * 4000}).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_huge_queries_and_long_headers_over_the_wire(sqlite_demo: tuple[Engine, Config]) -> None:
    engine, config = sqlite_demo
    with UvicornThread(create_app(engine, config)) as server:
        for target in _oversized_targets():
            status = status_of(get_raw(server.port, target))
            assert status is None or 400 <= status < 500, (target[:80], status)
        long_value = "x" * 65_536
        for path, headers in (
            ("/healthz", [("X-Long", long_value)]),
            ("/feeds/all.atom", [("If-None-Match", long_value)]),
            ("/api/items", [("User-Agent", long_value)]),
            ("/healthz", [(f"X-Many-{n}", "y" * 60) for n in range(1000)]),
        ):
            status = status_of(get_raw(server.port, path, headers=headers))
            assert status is None or 400 <= status < 500, (path, status)
            assert status_of(get_raw(server.port, "/healthz")) == 200
        head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + long_value
        assert status_of(raw_request(server.port, head.encode(), timeout=2.0)) in (None, 400, 431)
        with httpx.Client(base_url=server.base_url, timeout=10.0) as client:
            assert client.get("/healthz").status_code == 200
            assert client.get("/api/items").status_code == 200


# --------------------------------------------------------------------------- schemathesis


QUERIES = [
    "tag:kubernetes -tag:helm",
    "(golang OR #docker) -bookmarks:<10",
    "date:7d user:umiyosh",
    "tag:",
    ")(",
]


def _documented_filters(schema: dict[str, Any], slugs: list[str], tags: list[str]) -> dict[str, Any]:
    """The schema with the filter query parameters of the feed and item routes documented.

    Tag values and named feeds are drawn from the ones that exist as well as
    from arbitrary strings, so generated requests reach slices with items.
    """
    free = {"type": "string"}
    tag = {"anyOf": [{"type": "string", "enum": tags}, free]}
    repeatable = {"type": "array", "items": tag, "maxItems": 25}
    number = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    when = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}, free]}
    kinds = {
        "tag": repeatable,
        "any_tag": repeatable,
        "not_tag": repeatable,
        "source": repeatable,
        "site": free,
        "q": free,
        "since": when,
        "until": when,
        "min_bookmarks": number,
        "filter": {"anyOf": [{"type": "string", "enum": QUERIES}, free]},
        "limit": number,
        "sort": {"anyOf": [{"type": "string", "enum": ["recent", "popular", "rising"]}, free]},
        "window": {"anyOf": [{"type": "string", "enum": ["1h", "24h", "30d"]}, free]},
    }
    assert set(kinds) == set(PARAMS)
    for path, operations in schema["paths"].items():
        if not (path == "/api/items" or path.startswith("/feeds/")):
            continue
        names = [*PARAMS, "cursor"] if path == "/api/items" else list(PARAMS)
        for operation in operations.values():
            # The route documents ``filter`` itself: drawn here from QUERIES as well.
            kept = operation.get("parameters", [])
            parameters = [p for p in kept if not (p["in"] == "query" and p["name"] in names)]
            operation["parameters"] = parameters
            parameters += [
                {
                    "name": n,
                    "in": "query",
                    "required": False,
                    "schema": kinds.get(n, free),
                    "style": "form",
                    "explode": True,
                }
                for n in names
            ]
            for parameter in parameters:
                if parameter["in"] != "path":
                    continue
                if parameter["name"] == "ext":
                    parameter["schema"] = {"type": "string", "enum": ["atom", "rss", "json", "xml"]}
                elif parameter["name"] == "slug":
                    parameter["schema"] = {
                        "anyOf": [{"type": "string", "enum": [*slugs, "no-such-feed"]}, free]
                    }
                elif parameter["name"] == "tag":
                    parameter["schema"] = tag
    return schema


def _schemathesis(location: str, *options: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        location,
        "--checks",
        "not_a_server_error",
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
        "--no-color",
        *options,
    ]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=90, check=False)


def test_schemathesis_finds_no_server_error(tmp_path: Path, sqlite_demo: tuple[Engine, Config]) -> None:
    engine, config = sqlite_demo
    before = snapshot(engine)
    with UvicornThread(create_app(engine, config)) as server:
        live = _schemathesis(
            f"{server.base_url}/openapi.json", "--max-examples", "30", "--seed", "1", cwd=tmp_path
        )
        response = httpx.get(f"{server.base_url}/openapi.json", timeout=10)
        assert response.status_code == 200, response.text
        schema = response.json()
        documented = tmp_path / "openapi-with-filters.json"
        tags = [t["name"] for t in httpx.get(f"{server.base_url}/api/tags", timeout=10).json()]
        slugs = [o.slug for o in config.outputs]
        documented.write_text(json.dumps(_documented_filters(schema, slugs, tags)), encoding="utf-8")
        filters = _schemathesis(
            str(documented), "--url", server.base_url, "--max-examples", "40", "--seed", "2", cwd=tmp_path
        )
        assert status_of(get_raw(server.port, "/healthz")) == 200
    for run in (live, filters):
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
        assert "Server error" not in run.stdout
        assert "passed" in run.stdout
    assert snapshot(engine) == before
