"""``sort`` and ``window`` through every door, on both backends: the feed routes, ``/api/items``
and its pages, the HTML index and listings, named outputs and ``aggregator items``.

The data is ``test_store_ordering``'s: feeds polled over real HTTP at moving times; the
expected orders come from the counts those feeds served.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import feedparser
import html5lib
import pytest
from feedserver import FeedServer
from sqlalchemy.engine import Engine
from test_store_ordering import (
    HOT,
    POSTS,
    T0,
    TAG,
    Scenario,
    build,
    expected_growth,
    expected_order,
    most_bookmarked,
)

from aggregator import cli
from aggregator.api import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

DAY, SIX_HOURS = timedelta(hours=24), timedelta(hours=6)
OUTPUTS = [
    {"slug": "rising-6h", "title": "Rising", "sort": "rising", "window": "6h"},
    {"slug": "go-popular", "title": "Go, popular", "tag": "go", "sort": "popular"},
]


@pytest.fixture
def sc(engine: Engine, srv: FeedServer) -> Scenario:
    return build(engine, srv, OUTPUTS)


@pytest.fixture
def client(sc: Scenario) -> Iterator[TestClient]:
    with TestClient(create_app(sc.engine, sc.config, clock=lambda: T0)) as c:
        yield c


def titles_of(client: TestClient, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, (url, response.text[:300])
    if url.split("?")[0].endswith(".json"):
        return [i["title"].removeprefix("post ") for i in response.json()["items"]]
    return [e.title.removeprefix("post ") for e in feedparser.parse(response.content).entries]


def test_every_feed_route_takes_sort_and_window(client: TestClient) -> None:
    rising, six = expected_order(expected_growth(T0, DAY)), expected_order(expected_growth(T0, SIX_HOURS))
    popular = expected_order(most_bookmarked(T0))
    assert titles_of(client, "/feeds/all.json?sort=rising") == rising == ["a", "d", "b"]
    assert titles_of(client, "/feeds/all.atom?sort=rising&window=6h") == six == ["d", "a"]
    assert titles_of(client, "/feeds/all.rss?sort=popular") == popular
    assert titles_of(client, "/feeds/tag/go.json?sort=popular") == [
        n for n in popular if "go" in POSTS[n].tags
    ]
    on_com = [n for n in rising if ".com/" in POSTS[n].link]
    assert titles_of(client, "/feeds/site/example.com.atom?sort=rising") == on_com == ["a", "b"]
    feed = client.get("/feeds/all.json?sort=rising&window=6h").json()
    assert feed["title"] == "Everything, rising in 6h — aggregator"


def test_named_outputs_read_sort_and_window_from_the_configuration(client: TestClient) -> None:
    assert titles_of(client, "/feeds/rising-6h.json") == expected_order(expected_growth(T0, SIX_HOURS))
    assert titles_of(client, "/feeds/rising-6h.json?window=24h") == expected_order(expected_growth(T0, DAY))
    go = [n for n in expected_order(most_bookmarked(T0)) if "go" in POSTS[n].tags]
    assert titles_of(client, "/feeds/go-popular.atom") == go == ["b", "d", "e"]
    newest_go = sorted(go, key=lambda n: -POSTS[n].published.timestamp())
    assert titles_of(client, "/feeds/go-popular.atom?sort=recent") == newest_go


def test_api_items_shows_growth_and_pages_through_each_ranking(client: TestClient) -> None:
    body = client.get("/api/items?sort=rising").json()
    by_title = {i["title"].removeprefix("post "): i["growth"] for i in body["items"]}
    assert by_title == expected_growth(T0, DAY)
    assert "sort=rising" in body["filter"] and "window=24h" in body["filter"]
    for query, expected in (
        ("sort=rising&window=6h", expected_order(expected_growth(T0, SIX_HOURS))),
        ("sort=popular", expected_order(most_bookmarked(T0))),
        ("sort=recent", sorted(POSTS, key=lambda n: -POSTS[n].published.timestamp())),
    ):
        seen: list[str] = []
        url = f"/api/items?{query}&limit=1"
        while url:
            page = client.get(url).json()
            seen += [i["title"].removeprefix("post ") for i in page["items"]]
            url = f"/api/items?{query}&limit=1&cursor={page['next_cursor']}" if page["next_cursor"] else ""
        assert seen == expected, query


def test_a_cursor_of_another_order_is_refused(client: TestClient) -> None:
    popular = client.get("/api/items?sort=popular&limit=1").json()["next_cursor"]
    recent = client.get("/api/items?limit=1").json()["next_cursor"]
    for url in (f"/api/items?cursor={popular}", f"/api/items?sort=rising&cursor={recent}"):
        response = client.get(url)
        assert response.status_code == 422
        assert response.json()["parameter"] == "cursor"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("sort=best", "sort"),
        ("sort=Popular", "sort"),
        ("sort=recent&sort=popular", "sort"),
        ("window=30m", "window"),
        ("window=31d", "window"),
        ("window=24", "window"),
        ("window=soon", "window"),
    ],
)
def test_a_bad_sort_or_window_is_422_on_every_route(client: TestClient, query: str, parameter: str) -> None:
    for path in ("/api/items", "/feeds/all.atom", "/feeds/tag/go.json", "/feeds/rising-6h.rss"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 422, path
        assert response.json()["parameter"] == parameter
    message = client.get(f"/api/items?{query}").json()["message"]
    for path in ("/", "/tag/go", "/site/example.com"):
        response = client.get(f"{path}?{query}", headers={"Accept": "text/html"})
        assert response.status_code == 422, path
        assert escape(message) in response.text


def parse(html: str) -> Any:
    return html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=False)


def text(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


def tabs(root: Any) -> dict[str, tuple[str, bool]]:
    [nav] = [e for e in root.iter("nav") if e.get("class") == "sorts"]
    return {text(a): (a.get("href"), a.get("aria-current") == "page") for a in nav.iter("a")}


def listed(root: Any) -> list[tuple[str, str]]:
    """(post, what its count line says) for each listed item."""
    [items] = [e for e in root.iter("ul") if e.get("class") == "items"]
    return [
        (text(next(a for a in li.iter("a") if a.get("class") == "title")).removeprefix("post "), text(li))
        for li in items.findall("li")
    ]


def test_the_index_offers_the_three_orders_and_shows_growth(client: TestClient) -> None:
    recent = parse(client.get("/").text)
    assert tabs(recent) == {
        "Recent": ("/", True),
        "Popular": ("/?sort=popular", False),
        "Rising (24h)": ("/?sort=rising", False),
    }
    assert [n for n, _ in listed(recent)] == sorted(POSTS, key=lambda n: -POSTS[n].published.timestamp())
    rising = parse(client.get("/?sort=rising").text)
    assert tabs(rising)["Rising (24h)"] == ("/?sort=rising", True)
    growth, counts = expected_growth(T0, DAY), most_bookmarked(T0)
    shown = listed(rising)
    assert [n for n, _ in shown] == expected_order(growth)
    for name, line in shown:
        assert f"{counts[name]} users (+{growth[name]} in 24h)" in line
    assert "170 users (+50 in 24h)" in dict(shown)["a"]  # a: 120 at the window's start, 170 now
    six = parse(client.get("/?sort=rising&window=6h").text)
    assert tabs(six)["Rising (6h)"] == ("/?sort=rising&window=6h", True)
    assert tabs(six)["Popular"] == ("/?sort=popular", False)
    popular = listed(parse(client.get("/?sort=popular").text))
    assert [n for n, _ in popular] == expected_order(counts)
    assert all("(+" not in line for _, line in popular)


def test_tag_and_site_pages_offer_the_orders_keeping_their_filters(client: TestClient) -> None:
    root = parse(client.get("/tag/go?sort=rising&min_bookmarks=10").text)
    assert tabs(root) == {
        "Recent": ("/tag/go?min_bookmarks=10", False),
        "Popular": ("/tag/go?min_bookmarks=10&sort=popular", False),
        "Rising (24h)": ("/tag/go?min_bookmarks=10&sort=rising", True),
    }
    growth = expected_growth(T0, DAY)
    expected = [n for n in expected_order(growth) if "go" in POSTS[n].tags]
    assert [n for n, _ in listed(root)] == expected == ["d", "b"]
    assert all(f"(+{growth[n]} in 24h)" in line for n, line in listed(root))
    feeds = [a.get("href") for a in root.iter("a") if (a.get("href") or "").startswith("/feeds/")]
    assert "/feeds/tag/go.atom?sort=rising&min_bookmarks=10" in feeds
    site = parse(client.get("/site/example.org?sort=popular").text)
    assert tabs(site)["Popular"] == ("/site/example.org?sort=popular", True)
    org = [n for n in expected_order(most_bookmarked(T0)) if ".org/" in POSTS[n].link]
    assert [n for n, _ in listed(site)] == org


def test_the_items_command_takes_sort_and_window(
    engine: Engine, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)  # the command reads the real clock: the polls are placed before it
    with FeedServer() as srv:
        build(engine, srv, t0=now)
        lines = ["[poller]", "allow_private_networks = true"]
        lines += [f'[[sources]]\nurl = "{srv.url(path)}"\nkind = "tag"' for path in (HOT, TAG)]
    config = tmp_path / "feeds.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    base = ["--config", str(config), "--db", db_url, "items"]

    assert cli.main([*base, "--sort", "rising", "--window", "6h", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {i["title"].removeprefix("post "): i["growth"] for i in shown} == expected_growth(T0, SIX_HOURS)
    assert [i["title"].removeprefix("post ") for i in shown] == expected_order(expected_growth(T0, SIX_HOURS))

    assert cli.main([*base, "--sort", "popular"]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("5 items (most bookmarked first)")
    assert out.index("post a [170 users]") < out.index("post b [90 users]") < out.index("post e [10 users]")

    assert cli.main([*base, "--sort", "rising", "--window", "1m"]) == 2
    assert "bad parameter window" in capsys.readouterr().err
