"""parse.xmlentry: the fields of RSS 0.9x/1.0/2.0 and Atom entries as feedparser reads them."""

from __future__ import annotations

from datetime import UTC, datetime

from feeddocs import (
    ATOM03,
    ATOM10,
    HATENA_RSS10,
    RSS20,
    parse,
    rss,
)

from aggregator import parse as parse_module


def test_rss20_fields() -> None:
    feed = parse(RSS20)
    assert feed.link == "https://example.com/"
    assert feed.ttl_minutes == 60
    assert not feed.is_hatena
    first, second = feed.entries
    assert first.title == "First & foremost"
    assert first.link == "https://example.com/posts/1"
    assert first.guid == "post-1"
    assert first.summary == "<p>Hello <b>world</b></p>"
    assert first.content is not None
    assert '<img src="https://example.com/img/a.png">' in first.content
    assert first.author == "Jane Doe"
    assert first.published == datetime(2003, 6, 10, 2, 0, tzinfo=UTC)
    assert first.updated is None
    assert first.tags == ("News", "Tech")
    assert first.enclosures == (
        parse_module.ParsedEnclosure(url="https://cdn.example.com/a.mp3", type="audio/mpeg", length=12345),
    )
    assert first.bookmark_count is None
    assert second.link == "https://example.com/posts/2"
    assert second.guid is None
    assert second.summary is None and second.content is None
    assert feed.warnings == ()


def test_hatena_rss10() -> None:
    feed = parse(HATENA_RSS10)
    assert feed.is_hatena
    (entry,) = feed.entries
    assert entry.title == "Move Fast: How Facebook Builds Softwareを読んだ"
    assert entry.tags == ("テクノロジー", "あとで読む", "book")
    assert entry.bookmark_count == 123
    assert entry.image == "https://cdn-ak-scissors.b.st-hatena.com/image/square/abc/deeeet.com.jpg"
    assert entry.author == "umiyosh"
    assert entry.content is None
    assert entry.summary == "Software Engineering DailyのJeff Meyersonが書いた本を読んだ．"
    assert entry.published == datetime(2021, 7, 28, 0, 0, tzinfo=UTC)
    assert entry.updated == entry.published
    assert entry.link == "https://deeeet.com/writing/2021/07/28/move-fast/"


def test_atom10_fields() -> None:
    feed = parse(ATOM10)
    assert feed.link == "https://blog.example.org/"
    (entry,) = feed.entries
    assert entry.title == "a < b"
    assert entry.link == "https://blog.example.org/2024/entry-1"
    assert entry.guid == "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
    assert entry.published == datetime(2024, 5, 1, 1, 0, tzinfo=UTC)
    assert entry.updated == datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
    assert entry.author == "Ann Author"
    assert entry.tags == ("python", "Only label")
    assert entry.summary == "Plain &lt;summary&gt; text"
    assert entry.content is not None
    assert 'href="https://blog.example.org/rel/link"' in entry.content
    assert entry.enclosures == (
        parse_module.ParsedEnclosure(url="https://media.example.org/v.mp4", type="video/mp4", length=99),
    )


def test_atom03_dates_and_content() -> None:
    (entry,) = parse(ATOM03).entries
    assert entry.published == datetime(2005, 1, 3, 14, 0, 58, tzinfo=UTC)
    assert entry.updated == datetime(2005, 1, 3, 14, 4, 4, tzinfo=UTC)
    assert entry.content == "<p>Escaped <b>html</b></p>"
    assert entry.link == "http://old.example.com/archives/1.html"


def test_hatena_without_description_does_not_use_the_widget_as_summary() -> None:
    body = HATENA_RSS10.replace(
        "<description>Software Engineering DailyのJeff Meyersonが書いた本を読んだ．</description>".encode(),
        b"",
    )
    (entry,) = parse(body).entries
    assert entry.content is None
    assert entry.summary is None


def test_permalink_guid_resolved_like_a_link() -> None:
    body = rss('<item><guid>12345</guid></item><item><guid isPermaLink="false">12345</guid></item>')
    permalink, opaque = parse(body).entries
    assert permalink.guid == "https://example.com/feeds/12345"
    assert permalink.link == "https://example.com/feeds/12345"
    assert opaque.guid == "12345"
    assert opaque.link is None


def test_dates_year_zero_and_before_1970_are_none() -> None:
    body = rss(
        "<item><title>zero</title><pubDate>Mon, 01 Jan 0000 00:00:00 GMT</pubDate></item>"
        "<item><title>old</title><pubDate>Sat, 01 Jan 1966 00:00:00 GMT</pubDate></item>"
        "<item><title>junk</title><pubDate>yesterday-ish</pubDate></item>"
    )
    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>x</title>'
        b"<updated>0000-00-00T00:00:00Z</updated><published>0000-01-01T00:00:00Z</published></entry></feed>"
    )
    for feed in (parse(body), parse(atom)):
        for entry in feed.entries:
            assert entry.published is None
            assert entry.updated is None
