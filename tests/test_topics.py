"""topics: the feed a URL names, mapped from a WebSub topic as the routes map a request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.config import parse_config
from aggregator.errors import NotFoundError, QueryError
from aggregator.filters import Filter
from aggregator.topics import topic_view

NOW = datetime(2026, 3, 1, tzinfo=UTC)
BASE = "https://feeds.example"
CONFIG = parse_config(
    {
        "aliases": {"k8s": "kubernetes"},
        "outputs": [{"slug": "rising", "title": "Rising", "min_bookmarks": 50}],
    }
)


@pytest.mark.parametrize(
    ("path", "ext", "base", "flt"),
    [
        ("/feeds/all.atom", "atom", "/feeds/all", Filter()),
        ("/feeds/all.json?limit=5", "json", "/feeds/all", Filter(limit=5)),
        ("/feeds/tag/k8s.rss", "rss", "/feeds/tag/kubernetes", Filter(tags=("kubernetes",))),
        ("/feeds/tag/%E6%A9%9F.atom", "atom", "/feeds/tag/%E6%A9%9F", Filter(tags=("機",))),
        ("/feeds/site/Example.ORG.atom", "atom", "/feeds/site/example.org", Filter(sites=("example.org",))),
        ("/feeds/rising.json", "json", "/feeds/rising", Filter(min_bookmarks=50)),
    ],
)
def test_a_feed_url_names_its_slice_format_and_filter(path: str, ext: str, base: str, flt: Filter) -> None:
    view = topic_view(CONFIG, BASE + path, BASE + "/", NOW)
    assert (view.ext, view.slice.base, view.filter) == (ext, base, flt)
    assert view.self_url == BASE + path
    assert view.link_header == f'<{BASE}/websub>; rel="hub", <{BASE}{path}>; rel="self"'


def test_the_feed_id_and_etag_depend_on_the_url_as_written() -> None:
    a = topic_view(CONFIG, BASE + "/feeds/all.atom?since=7d", BASE, NOW)
    later = topic_view(CONFIG, BASE + "/feeds/all.atom?since=7d", BASE, NOW.replace(day=5))
    other = topic_view(CONFIG, BASE + "/feeds/all.atom?since=8d", BASE, NOW)
    assert a.feed_id == later.feed_id != other.feed_id
    assert a.etag([]) != other.etag([])


@pytest.mark.parametrize(
    ("topic", "error"),
    [
        ("http://feeds.example/feeds/all.atom", QueryError),  # another scheme
        ("https://feeds.example:8443/feeds/all.atom", QueryError),  # another port
        ("https://feeds.example/feeds/all.atom#top", QueryError),
        ("https://feeds.example/feeds/all", QueryError),
        ("https://feeds.example/feeds/a/b/c.atom", QueryError),
        ("https://feeds.example/tag/k8s", QueryError),
        ("https://feeds.example/feeds/all.html", NotFoundError),
        ("https://feeds.example/feeds/unknown.atom", NotFoundError),
        ("https://feeds.example/feeds/all.atom?limit=0", QueryError),
        ("https://feeds.example/feeds/all.atom?ext=2", QueryError),
        ("https://feeds.example/feeds/all.atom?" + "&".join(f"tag={n}" for n in range(60)), QueryError),
        ("https://feeds.example/feeds/all.atom?" + "a" * 2100, QueryError),
    ],
)
def test_a_url_that_names_no_feed_here_is_refused(topic: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        topic_view(CONFIG, topic, BASE, NOW)
