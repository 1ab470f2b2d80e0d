"""The API docs work offline: every script, stylesheet and icon of ``/docs`` and
``/redoc`` comes from the app itself, and each answers 200."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from lxml import html

from aggregator.api import create_app
from aggregator.config import parse_config
from aggregator.db import make_engine

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BASE = "http://testserver"
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('docs') / 'docs.db'}")
    with TestClient(create_app(engine, parse_config({})), base_url=BASE) as c:
        yield c
    engine.dispose()


def asset_urls(page: str) -> list[str]:
    """Every URL the page loads: scripts, stylesheets, icons, images."""
    tree = html.fromstring(page)
    return [str(u) for u in tree.xpath("//script/@src | //link/@href | //img/@src | //iframe/@src")]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_load_nothing_from_another_host(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = asset_urls(page.text)
    assert any(u.endswith(".js") for u in urls)
    for url in urls:
        absolute = urljoin(BASE + path, url)
        assert urlsplit(absolute).netloc == "testserver", url
        asset = client.get(absolute)
        assert asset.status_code == 200, url
        assert asset.content, url
        expected_type = ASSET_TYPES[Path(urlsplit(absolute).path).suffix]
        assert asset.headers["content-type"].startswith(expected_type), url
    # inline scripts too: no URL on another host anywhere in the page (an online validator included)
    assert re.findall(r"https?://[^\s\"'<>]+", page.text) == []


def test_swagger_ui_loads_our_schema_and_no_validator(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "url: '/openapi.json'" in page
    assert '"validatorUrl": null' in page
    assert client.get("/openapi.json").json()["info"]["title"] == "aggregator"
    assert "/docs" not in client.get("/openapi.json").json()["paths"]
