"""aggregator.parse.parse_feed: format dispatch, what is not a feed, what cannot be read, the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from feeddocs import (
    ATOM03,
    ATOM10,
    HATENA_RSS10,
    JSONFEED10,
    JSONFEED11,
    NOW,
    RSS091,
    RSS20,
    URL,
    parse,
    rss,
)

from aggregator.errors import ParseError
from aggregator.parse import ParsedEntry, parse_feed


@pytest.mark.parametrize(
    ("body", "fmt", "count", "title"),
    [
        pytest.param(RSS20, "rss20", 2, "Feed", id="rss20"),
        pytest.param(HATENA_RSS10, "rss10", 1, "はてなブックマーク - deeeet.com", id="rss10-hatena"),
        pytest.param(ATOM10, "atom10", 1, "Atom feed", id="atom10"),
        pytest.param(ATOM03, "atom03", 1, "Atom 0.3 feed", id="atom03"),
        pytest.param(RSS091, "rss091n", 1, "Netscape café", id="rss091"),
        pytest.param(JSONFEED10, "json10", 1, "JSON one", id="json10"),
        pytest.param(JSONFEED11, "json11", 2, "JSON one-one", id="json11"),
    ],
)
def test_formats(body: bytes, fmt: str, count: int, title: str) -> None:
    feed = parse(body)
    assert feed.format == fmt
    assert len(feed.entries) == count
    assert feed.total_entries >= count
    assert feed.title == title
    for entry in feed.entries:
        assert isinstance(entry, ParsedEntry)
        assert len(entry.raw_hash) == 64
        for date in (entry.published, entry.updated):
            assert date is None or date.tzinfo is not None


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(b"", {}, id="empty"),
        pytest.param(b"  \n\t ", {}, id="whitespace"),
        pytest.param(
            b"<head><title>Document Moved</title></head><body><h1>Object Moved</h1></body>",
            {},
            id="html-head",
        ),
        pytest.param(b"<!DOCTYPE html><html><body><p>hi</p></body></html>", {}, id="html5"),
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
            b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">'
            b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title></head><body/></html>',
            {},
            id="xhtml",
        ),
        pytest.param(b"<foo/>", {}, id="foo"),
        pytest.param(b'<?xml version="1.0"?><opml version="2.0"><body/></opml>', {}, id="opml"),
        pytest.param(b'{"rss": {"version": "2.0", "channel": {}}}', {}, id="json-not-jsonfeed"),
        pytest.param(b'[{"version": "https://jsonfeed.org/version/1"}]', {}, id="json-array"),
        pytest.param(
            b'{"version": "http://jsonfeed.org/version/1", "items": []}', {}, id="json-http-version"
        ),
    ],
)
def test_not_a_feed(body: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(ParseError) as info:
        parse(body, headers)
    assert info.value.category == "not_a_feed"


def test_empty_body_message() -> None:
    with pytest.raises(ParseError, match="empty body"):
        parse(b"")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"/etc/passwd", id="path-like"),
        pytest.param(b"\x1f\x8b\x08\x00garbage", id="gzip"),
        pytest.param(b'<rss version="2.0">\n</rss', id="truncated-no-metadata"),
        pytest.param(b'{"version": "https://jsonfeed.org/version/1", "items": [', id="broken-json"),
        pytest.param(b"[" * 100_000, id="deep-json"),
    ],
)
def test_unreadable(body: bytes) -> None:
    with pytest.raises(ParseError) as info:
        parse(body)
    assert info.value.category == "parse"


def test_empty_valid_feed_is_not_an_error() -> None:
    feed = parse(rss(""))
    assert feed.entries == ()
    assert feed.total_entries == 0
    assert feed.title == "Feed"
    atom = parse(b'<feed xmlns="http://www.w3.org/2005/Atom"><title>Nothing yet</title></feed>')
    assert atom.entries == () and atom.format == "atom10"


def test_feed_served_as_text_html_is_still_parsed() -> None:
    feed = parse(RSS20, {"content-type": "text/html; charset=utf-8"})
    assert len(feed.entries) == 2


def test_parse_is_deterministic_and_pure() -> None:
    first = parse(RSS20)
    second = parse(RSS20)
    assert first == second
    assert parse(HATENA_RSS10, {"content-type": "application/rdf+xml"}) == parse(HATENA_RSS10)


def test_naive_now_is_taken_as_utc() -> None:
    body = rss("<item><title>f</title><pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>")
    feed = parse_feed(body, {}, URL, now=datetime(2024, 6, 1, 12, 0))
    assert feed.entries[0].published == NOW


def test_now_must_clamp_relative_to_argument() -> None:
    body = rss("<item><title>f</title><pubDate>Sun, 02 Jun 2024 11:00:00 GMT</pubDate></item>")
    assert parse(body).entries[0].published == datetime(2024, 6, 2, 11, 0, tzinfo=UTC)
    later = parse_feed(body, {}, URL, now=NOW - timedelta(days=30))
    assert later.entries[0].published == NOW - timedelta(days=30)
