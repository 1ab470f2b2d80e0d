"""``/metrics``, ``/healthz`` and ``/readyz`` over real HTTP: the sample feeds polled into a real
database (SQLite and PostgreSQL), requests sent to a real uvicorn server, the metrics scraped and
parsed back; expected counts follow from the requests the test sent and the feeds it served."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from feedserver import FeedServer
from metricscheck import names, scrape, value
from procs import UvicornThread, cli_command, cli_env, free_port
from sqlalchemy.engine import Engine
from test_api import poll, sample_config, serve_samples
from test_e2e_server import START_TIMEOUT, stop

from aggregator.api import create_app
from aggregator.config import parse_config
from aggregator.db import make_engine

TAG_ROUTE = "/feeds/tag/{tag}.{ext}"
LATER = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)  # every source is due by then


def test_requests_cache_and_sources_as_a_scraper_sees_them(engine: Engine) -> None:
    with FeedServer() as srv:
        serve_samples(srv)
        config = sample_config(srv.base_url)
        poll(engine, config)  # one source, broken.xml, fails
    with UvicornThread(create_app(engine, config, clock=lambda: LATER)) as server, httpx.Client() as client:
        base = server.base_url
        for _ in range(3):
            assert client.get(f"{base}/feeds/tag/kubernetes.atom").status_code == 200
        assert client.get(f"{base}/no/such/page").status_code == 404
        assert client.get(f"{base}/feeds/no-such-output.atom").status_code == 404
        assert client.head(f"{base}/api/tags").status_code == 200
        rows = client.get(f"{base}/api/sources").json()
        samples = scrape(f"{base}/metrics")

    requests = "aggregator_http_requests_total"
    assert value(samples, requests, {"route": TAG_ROUTE, "status": "2xx"}) == 3
    assert value(samples, "aggregator_http_request_duration_seconds_count", {"route": TAG_ROUTE}) == 3
    assert value(samples, requests, {"route": "unmatched", "status": "4xx"}) == 1
    assert value(samples, requests, {"route": "/feeds/{slug}.{ext}", "status": "4xx"}) == 1
    assert value(samples, requests, {"route": "/api/tags", "status": "2xx"}) == 1  # HEAD counts as GET
    routes = {dict(labels).get("route") for name, labels in samples if name == requests}
    assert routes == {TAG_ROUTE, "unmatched", "/feeds/{slug}.{ext}", "/api/tags", "/api/sources"}
    # the same feed three times: rendered once, then served from the slice cache
    assert value(samples, "aggregator_slice_cache_renders_total") == 1
    assert value(samples, "aggregator_slice_cache_hits_total") == 2
    # how polling keeps up, read from the database: a month on, every source is late
    assert value(samples, "aggregator_database_up") == 1
    assert value(samples, "aggregator_sources_enabled") == len(config.sources)
    assert value(samples, "aggregator_sources_in_error") == 1
    assert value(samples, "aggregator_sources_due") == len(config.sources)
    earliest = min(datetime.fromisoformat(r["next_poll_at"]) for r in rows)
    assert value(samples, "aggregator_poll_lag_seconds") == (LATER - earliest).total_seconds()
    assert "process_cpu_seconds_total" in names(samples)


@pytest.mark.parametrize("where", ["postgres", "sqlite"])
def test_readiness_fails_with_a_reason_while_liveness_holds(where: str, tmp_path: Path) -> None:
    url = (
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
        if where == "postgres"
        else f"sqlite:///{tmp_path / 'missing-directory' / 'a.db'}"
    )
    engine = make_engine(url, create=False)
    app = create_app(engine, parse_config({}))
    with UvicornThread(app) as server, httpx.Client() as client:
        assert client.get(f"{server.base_url}/healthz").json() == {"status": "ok"}
        ready = client.get(f"{server.base_url}/readyz")
        assert client.get(f"{server.base_url}/api/tags").status_code == 503
        samples = scrape(f"{server.base_url}/metrics")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "reason": "the database is unreachable"}
    assert value(samples, "aggregator_database_up") == 0
    assert value(samples, "aggregator_http_requests_total", {"route": "/readyz", "status": "5xx"}) == 1
    assert value(samples, "aggregator_http_requests_total", {"route": "/api/tags", "status": "5xx"}) == 1
    assert "aggregator_sources_in_error" not in names(samples)
    engine.dispose()


def test_a_request_that_fails_unexpectedly_counts_as_a_5xx(sqlite_engine: Engine) -> None:
    app = create_app(sqlite_engine, parse_config({}))

    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken/{part}", broken)
    with UvicornThread(app) as server:  # a new connection each: uvicorn closes one whose request raised
        assert httpx.get(f"{server.base_url}/broken/1").status_code == 500
        assert httpx.get(f"{server.base_url}/broken/2").status_code == 500
        samples = scrape(f"{server.base_url}/metrics")
    assert value(samples, "aggregator_http_requests_total", {"route": "/broken/{part}", "status": "5xx"}) == 2


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two ``aggregator serve`` processes on one database sharing one multiprocess directory,
    as the workers of one service would."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    config = tmp_path / "feeds.toml"
    config.write_text("", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'a.db'}"
    make_engine(db).dispose()  # the schema exists before the workers start, as after a deployment's migration
    env = cli_env() | {"PROMETHEUS_MULTIPROC_DIR": str(shared)}
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            cli_command("--config", str(config), "--db", db, "serve", "--port", str(port)),
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for port in ports
    ]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base, process in zip(bases, processes, strict=True):
            wait_for(base, process)
        yield bases[0], bases[1]
    finally:
        for process in processes:
            stop(process)
            if process.stderr is not None:
                process.stderr.close()


def wait_for(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited: {process.stderr.read() if process.stderr else ''}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    pytest.fail(f"{base} did not start")


def test_multiprocess_mode_adds_up_every_worker(two_servers: tuple[str, str]) -> None:
    first, second = two_servers
    with httpx.Client() as client:
        for _ in range(2):
            assert client.get(f"{first}/api/tags").status_code == 200
        for _ in range(3):
            assert client.get(f"{second}/api/tags").status_code == 200
    samples = scrape(f"{first}/metrics")
    assert value(samples, "aggregator_http_requests_total", {"route": "/api/tags", "status": "2xx"}) == 5
    assert value(samples, "aggregator_http_request_duration_seconds_count", {"route": "/api/tags"}) == 5
    assert value(samples, "aggregator_database_up") == 1
