"""parse.entries: what every entry goes through: dates clamped, fields bounded, markup sanitized."""

from __future__ import annotations

from datetime import UTC, datetime

from feeddocs import (
    HATENA_RSS10,
    NOW,
    all_text,
    parse,
    rss,
)


def test_future_date_clamped_to_now() -> None:
    body = rss(
        "<item><title>future</title><pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>"
        "<item><title>soon</title><pubDate>Sat, 01 Jun 2024 20:00:00 GMT</pubDate></item>"
    )
    feed = parse(body)
    future, soon = feed.entries
    assert future.published == NOW
    assert soon.published == datetime(2024, 6, 1, 20, 0, tzinfo=UTC)
    assert any("future" in warning for warning in feed.warnings)


def test_entries_without_link_or_guid_and_duplicate_guids_kept() -> None:
    body = rss(
        "<item><title>one</title><description>first</description></item>"
        "<item><title>two</title><description>second</description></item>"
        '<item><title>dup</title><guid isPermaLink="false">same</guid></item>'
        '<item><title>dup again</title><guid isPermaLink="false">same</guid></item>'
        "<item></item>"
    )
    feed = parse(body)
    assert [e.title for e in feed.entries] == ["one", "two", "dup", "dup again", ""]
    one, two = feed.entries[:2]
    assert one.link is None and one.guid is None
    assert one.raw_hash != two.raw_hash
    assert parse(body).entries[0].raw_hash == one.raw_hash
    assert [e.guid for e in feed.entries[2:4]] == ["same", "same"]


def test_long_fields_are_bounded() -> None:
    tags = "".join(f"<category>tag{i}{'x' * 150}</category>" for i in range(150))
    body = rss(
        f"<item><title>{'T' * 5000}</title><guid>{'g' * 5000}</guid>{tags}"
        f"<author>{'a' * 5000}</author></item>"
    )
    (entry,) = parse(body).entries
    assert len(entry.title) == 2000
    assert entry.guid is not None and len(entry.guid) == 1000
    assert len(entry.tags) == 100
    assert all(len(tag) <= 100 for tag in entry.tags)
    assert entry.author is not None and len(entry.author) <= 500


def test_bookmark_count_parsing() -> None:
    def with_count(value: str) -> int | None:
        body = HATENA_RSS10.replace(b"<hatena:bookmarkcount>123", f"<hatena:bookmarkcount>{value}".encode())
        return parse(body).entries[0].bookmark_count

    assert with_count(" 1,024 ") == 1024
    assert with_count("-5") is None
    assert with_count("many") is None


HOSTILE = rss(
    """
    <item>
      <title>&lt;script&gt;alert(1)&lt;/script&gt;Title</title>
      <link>javascript:alert(1)</link>
      <guid>hostile-1</guid>
      <description><![CDATA[<p onclick="x()">Hi<img src="x" onerror="alert(2)"><script>alert(3)</script>
        <a href="javascript:alert(4)">j</a><a href="vbscript:x">v</a><iframe src="https://evil.example"></iframe>
        <style>body{}</style><form action="/x"><input></form></p>]]></description>
      <content:encoded><![CDATA[<div style="x" onmouseover="alert(5)"><svg onload="alert(6)"></svg>
        <a href=" JaVaScRiPt:alert(7)">x</a><object data="x"></object><embed src="y"></div>
      ]]></content:encoded>
      <enclosure url="javascript:alert(8)" type="audio/mpeg" length="1"/>
      <enclosure url="data:text/html,alert(9)" type="text/html" length="1"/>
      <enclosure url="ftp://files.example.com/a.mp3" type="audio/mpeg" length="1"/>
      <media:thumbnail url="javascript:alert(10)"/>
      <author>&lt;b onmouseover="alert(11)"&gt;Mallory&lt;/b&gt;</author>
      <category>&lt;script&gt;alert(12)&lt;/script&gt;tag</category>
    </item>
    """
).replace(
    b"<rss ",
    b'<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    b'xmlns:media="http://search.yahoo.com/mrss/" ',
)


def test_hostile_html_never_survives() -> None:
    feed = parse(HOSTILE)
    (entry,) = feed.entries
    assert entry.link is None
    assert entry.enclosures == ()
    assert entry.image is None
    assert entry.title == "Title"
    assert entry.author == "Mallory"
    assert entry.tags == ("tag",)
    text = all_text(feed).lower()
    for needle in (
        "<script",
        "alert(",
        "onerror",
        "onclick",
        "onmouseover",
        "onload",
        "javascript:",
        "vbscript:",
        "<iframe",
        "<style",
        "<object",
        "<embed",
        "<form",
        "<svg",
        "style=",
    ):
        assert needle not in text, needle
    assert entry.summary is not None and "Hi" in entry.summary
