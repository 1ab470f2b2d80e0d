"""parse.xmlfeed: feedparser driven safely: an in-memory stream, no DTD fetch, one retry."""

from __future__ import annotations

from typing import Any

import feedparser
import pytest
from feeddocs import (
    RSS091,
    parse,
    rss,
)

from aggregator.errors import ParseError


def test_rss091_netscape_doctype_is_not_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("feedparser tried to fetch something")

    monkeypatch.setattr(feedparser.http, "get", no_network)
    feed = parse(RSS091)
    assert feed.entries[0].title == "Café item"
    assert feed.encoding == "cp1252"


def test_feedparser_exception_retried_then_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real_parse = feedparser.parse

    def flaky(stream: Any, **kwargs: Any) -> Any:
        calls.append(stream.getvalue())
        if len(calls) == 1:
            raise ValueError("boom")
        return real_parse(stream, **kwargs)

    monkeypatch.setattr(feedparser, "parse", flaky)
    feed = parse(rss("<item><title>x</title></item>"))
    assert len(calls) == 2
    assert feed.entries[0].title == "x"
    assert any("boom" in warning for warning in feed.warnings)

    def broken(stream: Any, **kwargs: Any) -> Any:
        raise RuntimeError("always")

    monkeypatch.setattr(feedparser, "parse", broken)
    with pytest.raises(ParseError) as info:
        parse(rss("<item><title>x</title></item>"))
    assert info.value.category == "parse"
    assert isinstance(info.value.__cause__, RuntimeError)


def test_feedparser_gets_a_stream_not_a_path(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []
    real_parse = feedparser.parse

    def spy(source: Any, **kwargs: Any) -> Any:
        seen.append(source)
        return real_parse(source, **kwargs)

    monkeypatch.setattr(feedparser, "parse", spy)
    with pytest.raises(ParseError):
        parse(b"/etc/passwd")
    assert seen and all(hasattr(source, "read") for source in seen)


def test_relative_links_resolve_against_content_location() -> None:
    body = rss("<item><title>r</title><link>post/9</link></item>").replace(
        b"<link>https://example.com/</link>", b"<link>/home</link>"
    )
    feed = parse(body, {"content-location": "/mirror/feed.xml"})
    assert feed.link == "https://example.com/home"
    assert feed.entries[0].link == "https://example.com/mirror/post/9"


def test_truncation_of_100k_items() -> None:
    items = "".join(
        f'<item><title>n{i}</title><guid isPermaLink="false">g{i}</guid></item>' for i in range(100_000)
    )
    feed = parse(rss(items))
    assert feed.total_entries == 100_000
    assert len(feed.entries) == 1000
    assert feed.entries[0].guid == "g0"
    assert feed.entries[-1].guid == "g999"
    assert any("truncated" in warning for warning in feed.warnings)
    small = parse(rss(items[:2000]), max_entries=5)
    assert len(small.entries) == 5


def test_relative_urls_in_markup_resolve_against_xml_base_and_the_document() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.org/">
  <title>t</title><id>urn:f</id><updated>2024-05-01T00:00:00Z</updated>
  <entry xml:base="/2024/">
    <title>e</title><id>urn:e</id><updated>2024-05-01T00:00:00Z</updated>
    <summary type="html">&lt;a href="notes"&gt;n&lt;/a&gt;</summary>
    <content type="html" xml:base="https://cdn.example.net/img/">&lt;img src="a.png"&gt;</content>
  </entry>
</feed>"""
    entry = parse(body).entries[0]
    rel = ' rel="noopener noreferrer nofollow"'
    assert entry.summary == f'<a href="https://blog.example.org/2024/notes"{rel}>n</a>'
    assert entry.content == '<img src="https://cdn.example.net/img/a.png">'
    rss_body = rss('<item><title>r</title><description>&lt;a href="p/1"&gt;x&lt;/a&gt;</description></item>')
    described = parse(rss_body, {"content-location": "/mirror/feed.xml"}).entries[0]
    assert described.summary == f'<a href="https://example.com/mirror/p/1"{rel}>x</a>'
