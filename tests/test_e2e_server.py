"""The real server: `aggregator serve` in a subprocess, read over HTTP like a feed reader would."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import feedparser
import httpx
import pytest
from feedcheck import parse_back, validate_atom
from feedserver import FeedServer
from test_api import DEMO_BASE, DEMO_CONFIG, ROOT, poll, serve_samples

from aggregator.config import load_config
from aggregator.db import make_engine

START_TIMEOUT = 20.0


@dataclass
class Server:
    base: str
    port: int
    banner: str
    db: Path
    process: subprocess.Popen[str]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("e2e")
    db = tmp / "e2e.db"
    config_file = tmp / "feeds.toml"
    with FeedServer() as srv:
        serve_samples(srv, extras=False)
        text = DEMO_CONFIG.read_text(encoding="utf-8").replace(DEMO_BASE, srv.base_url)
        config_file.write_text(text, encoding="utf-8")
        engine = make_engine(f"sqlite:///{db}")
        try:
            poll(engine, load_config(config_file))
        finally:
            engine.dispose()

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "aggregator.cli",
        "--config",
        str(config_file),
        "--db",
        f"sqlite:///{db}",
    ]
    log = tmp / "server.log"
    with log.open("w") as errors:
        process = subprocess.Popen(
            [*command, "serve", "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}: {log.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"server did not answer /healthz in time: {log.read_text()}")
            time.sleep(0.05)
        banner = process.stdout.readline()  # type: ignore[union-attr]
        yield Server(base, port, banner, db, process)
    finally:
        stop(process)


def test_serve_binds_loopback_by_default(server: Server) -> None:
    assert f"http://127.0.0.1:{server.port}/" in server.banner
    health = httpx.get(f"{server.base}/healthz")
    assert health.json()["status"] == "ok"
    # bound to 127.0.0.1 itself, not to every address: another loopback address is refused
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        assert sock.connect_ex(("127.0.0.2", server.port)) != 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        assert sock.connect_ex(("127.0.0.1", server.port)) == 0


def test_subscribe_like_a_feed_reader(server: Server) -> None:
    url = f"{server.base}/feeds/tag/kubernetes.atom"
    with httpx.Client(timeout=10) as client:
        first = client.get(url)
        assert first.status_code == 200
        assert first.headers["content-type"] == "application/atom+xml; charset=utf-8"
        assert first.headers["x-content-type-options"] == "nosniff"
        validate_atom(first.content)
        feed = parse_back(first.content)
        assert [link.href for link in feed.feed.links if link.rel == "self"] == [url]
        assert len(feed.entries) > 0
        for entry in feed.entries:
            assert "kubernetes" in {t.term for t in entry.tags}, entry.title
        etag = first.headers["etag"]

        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag

        by_date = client.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
        assert by_date.status_code == 304

        head = client.head(url)
        assert head.status_code == 200
        assert head.headers["content-length"] == str(len(first.content))
        assert head.content == b""


def test_feedparser_conditional_get(server: Server) -> None:
    url = f"{server.base}/feeds/tag/k8s.rss"
    first = feedparser.parse(url)
    assert not first.bozo
    assert first.status == 200 and first.entries
    assert first.etag
    second = feedparser.parse(url, etag=first.etag, modified=first.modified)
    assert second.status == 304
    assert not second.entries


def test_raw_http_304_has_no_body(server: Server) -> None:
    path = "/feeds/golang-not-docker.json"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path)
        first = conn.getresponse()
        body = first.read()
        assert first.status == 200 and body
        etag = first.getheader("ETag")
        conn.request("GET", path, headers={"If-None-Match": str(etag)})
        second = conn.getresponse()
        assert second.status == 304
        assert second.read() == b""
        conn.request("GET", path)  # the connection is still usable after the 304
        third = conn.getresponse()
        assert third.status == 200 and third.read() == body
    finally:
        conn.close()


def test_errors_over_the_wire_are_json_without_tracebacks(server: Server) -> None:
    for path, status in (
        ("/feeds/all.atom?limit=abc", 422),
        ("/feeds/no-such-output.atom", 404),
        ("/feeds/all.xml", 404),
        ("/api/items?cursor=!!", 422),
    ):
        response = httpx.get(server.base + path)
        assert response.status_code == status
        assert response.headers["content-type"].startswith("application/json")
        assert "Traceback" not in response.text


NEWSBOAT = shutil.which("newsboat")


@pytest.mark.skipif(NEWSBOAT is None, reason="newsboat is not installed")
@pytest.mark.parametrize("path", ["/feeds/tag/kubernetes.atom", "/feeds/golang-not-docker.rss"])
def test_newsboat_reads_the_feed(server: Server, tmp_path: Path, path: str) -> None:
    assert NEWSBOAT is not None
    url = server.base + path
    urls = tmp_path / "urls"
    urls.write_text(url + "\n", encoding="utf-8")
    cache = tmp_path / "cache.db"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    for _ in range(2):  # the second reload revalidates what the first stored
        done = subprocess.run(
            [NEWSBOAT, "-u", str(urls), "-c", str(cache), "-x", "reload"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    with contextlib.closing(sqlite3.connect(cache)) as db:
        rows = db.execute("SELECT title, url FROM rss_item WHERE feedurl = ?", (url,)).fetchall()
    expected = {(e.title, e.link) for e in parse_back(httpx.get(url).content).entries}
    assert expected
    assert sorted(rows) == sorted(expected)
