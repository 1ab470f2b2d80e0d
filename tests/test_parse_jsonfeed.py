"""parse.jsonfeed: JSON Feed 1.0 and 1.1, invalid members skipped, hostile values dropped."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from feeddocs import (
    JSONFEED10,
    JSONFEED11,
    all_text,
    parse,
)

from aggregator import parse as parse_module


def test_jsonfeed10_fields() -> None:
    feed = parse(JSONFEED10)
    assert feed.link == "https://json.example.com/"
    assert feed.encoding == "utf-8"
    (entry,) = feed.entries
    assert entry.guid == "42"
    assert entry.link == "https://example.com/posts/42"
    assert entry.title == "Numeric <id> x"
    assert entry.content == "<p>Line one<br>\nline two</p>\n<p>Second &lt;para&gt;</p>"
    assert entry.published == datetime(2020, 1, 2, 12, 0, tzinfo=UTC)
    assert entry.author == "Old Style"
    assert entry.tags == ("a", "b")
    assert entry.image == "https://json.example.com/i.png"
    assert entry.enclosures == (
        parse_module.ParsedEnclosure(url="https://json.example.com/a.mp3", type="audio/mpeg", length=7),
    )


def test_jsonfeed11_fields_and_invalid_members() -> None:
    feed = parse(JSONFEED11, {"content-type": "application/feed+json"})
    assert feed.total_entries == 3
    good, bad = feed.entries
    assert good.link == "https://elsewhere.example.net/story"
    assert good.content == "<p>Hi </p>"
    assert good.summary == "<p>Short &amp; sweet</p>"
    assert good.published == datetime(2020, 1, 2, 21, 0, tzinfo=UTC)
    assert good.updated == datetime(2020, 1, 4, 0, 0, tzinfo=UTC)
    assert good.author == "Second Author"
    assert good.image == "https://json.example.com/banner.png"
    assert bad.guid == "c"
    assert (bad.title, bad.link, bad.content, bad.published) == ("", None, None, None)
    assert any("not an object" in warning for warning in feed.warnings)


def test_jsonfeed_without_items_is_an_empty_feed() -> None:
    feed = parse(b'{"version": "https://jsonfeed.org/version/1"}', {"content-type": "text/html"})
    assert feed.entries == () and feed.format == "json10"
    assert any("items" in warning for warning in feed.warnings)


def test_hostile_jsonfeed() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "items": [
                {
                    "id": "1",
                    "url": "javascript:alert(1)",
                    "title": "<script>alert(2)</script>T",
                    "content_html": '<img src=x onerror="alert(3)"><a href="javascript:alert(4)">a</a>',
                    "image": "javascript:alert(5)",
                    "attachments": [{"url": "javascript:alert(6)"}],
                }
            ],
        }
    ).encode()
    feed = parse(body)
    (entry,) = feed.entries
    assert entry.link is None and entry.image is None and entry.enclosures == ()
    text = all_text(feed).lower()
    assert "javascript:" not in text and "onerror" not in text and "<script" not in text
