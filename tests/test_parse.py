"""Unit tests for aggregator.parse: small inline documents, one behaviour each."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest

from aggregator import parse as parse_module
from aggregator.errors import ParseError
from aggregator.parse import ENTITY_EXPANSION_FLOOR, ParsedEntry, ParsedFeed, parse_feed, sniff_format

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
URL = "https://example.com/feeds/main.xml"
HATENA_NS = "http://www.hatena.ne.jp/info/xmlns#"


def parse(body: bytes, headers: dict[str, str] | None = None, **kwargs: Any) -> ParsedFeed:
    return parse_feed(body, headers or {}, URL, now=NOW, **kwargs)


def rss(items: str, *, channel: str = "", decl: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (
        f'{decl}\n<rss version="2.0"><channel><title>Feed</title>'
        f"<link>https://example.com/</link>{channel}{items}</channel></rss>"
    ).encode()


def one_item(title: str, *, decl: str = "") -> str:
    return (
        f'{decl}<rss version="2.0"><channel><title>t</title>'
        f"<item><title>{title}</title></item></channel></rss>"
    )


def all_text(feed: ParsedFeed) -> str:
    """Every string the parser produced, for 'this never shows up' assertions."""
    parts: list[str] = [feed.title or "", feed.link or "", *feed.warnings]
    for entry in feed.entries:
        for value in dataclasses.asdict(entry).values():
            parts.append(json.dumps(value, default=str, ensure_ascii=False))
    return "\n".join(parts)


# --------------------------------------------------------------------------- formats

RSS20 = rss(
    """
    <item>
      <title>First &amp; foremost</title>
      <link>/posts/1</link>
      <guid isPermaLink="false">  post-1  </guid>
      <description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;/p&gt;</description>
      <content:encoded><![CDATA[<p>Full <em>text</em> <img src="/img/a.png"></p>]]></content:encoded>
      <author>jane@example.com (Jane Doe)</author>
      <category>News</category><category>Tech</category><category>News</category>
      <pubDate>Tue, 10 Jun 2003 04:00:00 +0200</pubDate>
      <enclosure url="https://cdn.example.com/a.mp3" length="12345" type="audio/mpeg"/>
    </item>
    <item><title>Second</title><link>https://example.com/posts/2</link></item>
    """,
    channel="<ttl>60</ttl>",
).replace(b"<rss ", b'<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" ')

HATENA_RSS10 = f"""<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:hatena="{HATENA_NS}">
  <channel rdf:about="https://b.hatena.ne.jp/site/deeeet.com/">
    <title>はてなブックマーク - deeeet.com</title>
    <link>https://b.hatena.ne.jp/site/deeeet.com/</link>
    <description>deeeet.com の人気エントリー</description>
    <items><rdf:Seq><rdf:li rdf:resource="https://deeeet.com/writing/2021/07/28/move-fast/"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://deeeet.com/writing/2021/07/28/move-fast/">
    <title>Move Fast: How Facebook Builds Softwareを読んだ</title>
    <link>https://deeeet.com/writing/2021/07/28/move-fast/</link>
    <description>Software Engineering DailyのJeff Meyersonが書いた本を読んだ．</description>
    <content:encoded><![CDATA[<blockquote cite="x"><cite>widget</cite>
      <p>ブックマーク widget</p></blockquote>]]></content:encoded>
    <dc:creator>umiyosh</dc:creator>
    <dc:date>2021-07-28T09:00:00+09:00</dc:date>
    <dc:subject>テクノロジー</dc:subject>
    <dc:subject>あとで読む</dc:subject>
    <dc:subject>book</dc:subject>
    <dc:subject>あとで読む</dc:subject>
    <hatena:bookmarkcount>123</hatena:bookmarkcount>
    <hatena:imageurl>https://cdn-ak-scissors.b.st-hatena.com/image/square/abc/deeeet.com.jpg</hatena:imageurl>
  </item>
</rdf:RDF>
""".encode()

ATOM10 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.org/">
  <title type="html">Atom &lt;i&gt;feed&lt;/i&gt;</title>
  <link rel="alternate" href="/"/>
  <id>urn:feed</id>
  <updated>2024-05-01T00:00:00Z</updated>
  <entry>
    <title type="text">a &lt; b</title>
    <link rel="alternate" type="text/html" href="2024/entry-1"/>
    <link rel="enclosure" type="video/mp4" length="99" href="https://media.example.org/v.mp4"/>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <published>2024-05-01T10:00:00+09:00</published>
    <updated>2024-05-02T10:00:00Z</updated>
    <author><name>Ann Author</name></author>
    <category term="python" label="Python"/>
    <category term="" label="Only label"/>
    <summary type="text">Plain &lt;summary&gt; text</summary>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">
      <p>XHTML <a href="rel/link">body</a></p></div></content>
  </entry>
</feed>
"""

ATOM03 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#">
  <title>Atom 0.3 feed</title>
  <link rel="alternate" type="text/html" href="http://old.example.com/"/>
  <modified>2005-01-03T14:04:04Z</modified>
  <entry>
    <title>Old entry</title>
    <link rel="alternate" type="text/html" href="http://old.example.com/archives/1.html"/>
    <id>tag:old.example.com,2005:1</id>
    <issued>2005-01-03T14:00:58Z</issued>
    <modified>2005-01-03T14:04:04Z</modified>
    <content type="text/html" mode="escaped"><![CDATA[<p>Escaped <b>html</b></p>]]></content>
  </entry>
</feed>
"""

RSS091 = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
  "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel>
  <title>Netscape caf\xe9</title><link>http://n.example.com/</link><description>d</description>
  <language>en</language>
  <item><title>Caf\xe9 item</title><link>http://n.example.com/1</link><description>One</description></item>
</channel></rss>
"""

JSONFEED10 = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1",
        "title": "JSON one",
        "home_page_url": "https://json.example.com/",
        "author": {"name": "Feed Author"},
        "items": [
            {
                "id": 42,
                "url": "/posts/42",
                "title": "Numeric &lt;id&gt; <b>x</b>",
                "content_text": "Line one\nline two\n\nSecond <para>",
                "date_published": "2020-01-02T12:00:00Z",
                "author": {"name": "Old Style"},
                "tags": ["a", "b", "a", 3],
                "image": "https://json.example.com/i.png",
                "attachments": [
                    {"url": "https://json.example.com/a.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 7}
                ],
            }
        ],
    }
).encode()

JSONFEED11 = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON one-one",
        "items": [
            {
                "id": "b",
                "external_url": "https://elsewhere.example.net/story",
                "content_html": "<p>Hi <script>alert(1)</script></p>",
                "summary": "Short & sweet",
                "date_published": "2020-01-02T14:00:00-07:00",
                "date_modified": "2020-01-04T01:00:00+0100",
                "authors": [{"url": "https://x.example"}, {"name": "Second Author"}],
                "banner_image": "https://json.example.com/banner.png",
            },
            {"id": "c", "title": 1000, "content_html": True, "url": 1.5, "date_published": "not a date"},
            "not an object",
        ],
    }
).encode()


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


def test_rss091_netscape_doctype_is_not_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("feedparser tried to fetch something")

    monkeypatch.setattr(feedparser.http, "get", no_network)
    feed = parse(RSS091)
    assert feed.entries[0].title == "Café item"
    assert feed.encoding == "cp1252"


def test_dataclasses_are_frozen() -> None:
    feed = parse(RSS20)
    with pytest.raises(dataclasses.FrozenInstanceError):
        feed.title = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        feed.entries[0].title = "x"  # type: ignore[misc]


# --------------------------------------------------------------------------- encodings

JAPANESE = "日本語のタイトル①～㈱髙"  # ①, ～ (U+FF5E), ㈱ and 髙 exist only in CP932


def japanese_rss(encoding_label: str | None, codec: str) -> bytes:
    decl = f'<?xml version="1.0" encoding="{encoding_label}"?>' if encoding_label else ""
    text = (
        f'{decl}<rss version="2.0"><channel><title>{JAPANESE}</title>'
        f"<item><title>{JAPANESE}</title><description>本文です</description></item></channel></rss>"
    )
    return text.encode(codec)


@pytest.mark.parametrize(
    "label", ["Shift_JIS", "shift-jis", "SJIS", "x-sjis", "MS_Kanji", "csShiftJIS", "Windows-31J", "CP932"]
)
def test_shift_jis_labels_decode_as_cp932(label: str) -> None:
    body = japanese_rss(label, "cp932")
    feed = parse(body)
    assert feed.encoding == "cp932"
    assert feed.title == JAPANESE
    assert feed.entries[0].title == JAPANESE
    assert feed.entries[0].summary == "本文です"


@pytest.mark.parametrize("label", ["Shift_JIS", "sjis", "windows-31j"])
def test_shift_jis_from_http_charset_only(label: str) -> None:
    body = japanese_rss(None, "cp932")
    feed = parse(body, {"content-type": f'application/rss+xml; charset="{label}"'})
    assert feed.entries[0].title == JAPANESE


def test_http_charset_overrides_declaration() -> None:
    body = japanese_rss("utf-8", "cp932")
    feed = parse(body, {"content-type": "text/xml; charset=Shift_JIS"})
    assert feed.entries[0].title == JAPANESE


def test_euc_jp() -> None:
    title = "日本語の見出し、ひらがな・カタカナ"
    body = one_item(title, decl='<?xml version="1.0" encoding="EUC-JP"?>').encode("euc_jp")
    feed = parse(body)
    assert feed.encoding == "euc_jp"
    assert feed.entries[0].title == title


def test_euc_jp_with_nec_row13_falls_back_to_jis_x_0213() -> None:
    title = "丸数字①②③"
    body = one_item(title, decl='<?xml version="1.0" encoding="euc-jp"?>').encode("euc_jis_2004")
    with pytest.raises(UnicodeDecodeError):
        body.decode("euc_jp")
    feed = parse(body)
    assert feed.entries[0].title == title


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_or_declaration(codec: str) -> None:
    body = one_item("ひとつ").encode(codec)
    feed = parse(body)
    assert feed.encoding == codec
    assert feed.entries[0].title == "ひとつ"


@pytest.mark.parametrize("codec", ["utf-16", "utf-32"])
def test_utf16_and_utf32_with_bom(codec: str) -> None:
    body = one_item("ひとつ", decl='<?xml version="1.0" encoding="UTF-16"?>').encode(codec)
    assert parse(body).entries[0].title == "ひとつ"


def test_utf8_bom_and_whitespace_before_declaration() -> None:
    body = b"\xef\xbb\xbf\n\n   " + rss("<item><title>café</title></item>")
    assert parse(body).entries[0].title == "café"
    body = b"\n\n\n    " + rss("<item><title>x</title></item>")
    assert parse(body).entries[0].title == "x"


def test_server_default_charset_does_not_beat_declaration() -> None:
    body = rss("<item><title>Zürich – naïve</title></item>")
    feed = parse(body, {"content-type": "text/xml; charset=ISO-8859-1"})
    assert feed.entries[0].title == "Zürich – naïve"


def test_latin1_without_declaration() -> None:
    body = one_item("São Paulo").encode("latin-1")
    assert parse(body).entries[0].title == "São Paulo"


def test_declared_encoding_wrong_falls_back() -> None:
    body = japanese_rss("iso-8859-7", "utf-8").replace(b"iso-8859-7", b"Shift_JIS")
    feed = parse(body)
    assert feed.entries[0].title == JAPANESE
    assert any("override" in warning for warning in feed.warnings)


# --------------------------------------------------------------------------- entity attacks

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title></item></channel></rss>
"""


def test_billion_laughs_refused() -> None:
    with pytest.raises(ParseError) as info:
        parse(BILLION_LAUGHS)
    assert info.value.category == "parse"
    assert "entity declarations" in str(info.value)


def test_billion_laughs_on_one_line_refused() -> None:
    body = BILLION_LAUGHS.replace(b"\n <!ENTITY", b"<!ENTITY")
    with pytest.raises(ParseError, match="entity declarations"):
        parse(body)


def test_quadratic_blowup_is_bounded_and_its_entry_dropped() -> None:
    value = "a" * 10_000
    refs = "&big;" * 20_000
    body = (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY big "{value}">\n]>\n'
        f'<rss version="2.0"><channel><title>t</title><item><title>x</title>'
        f"<description>{refs}</description></item></channel></rss>"
    ).encode()
    feed = parse(body)
    # Entity values may add as much as the body itself: 11 references fit, and the entry
    # holding the other 19,989 is dropped whole rather than stored altered.
    fitting = max(ENTITY_EXPANSION_FLOOR, len(body)) // len(value)
    assert (feed.title, feed.entries, feed.total_entries) == ("t", (), 1)
    assert [d.kind for d in feed.damage] == ["entities"]
    assert f"{20_000 - fitting} references not expanded" in (feed.damage_summary or "")


def test_small_entity_declarations_allowed() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY company "ACME Corp">\n]>\n'
        b'<rss version="2.0"><channel><title>&company; news</title>'
        b"<item><title>About &company;</title></item></channel></rss>"
    )
    feed = parse(body)
    assert feed.title == "ACME Corp news"
    assert feed.entries[0].title == "About ACME Corp"


@pytest.mark.parametrize("separator", ["\n", ""])
def test_external_entity_never_resolved(separator: str) -> None:
    body = (
        f'<?xml version="1.0"?>{separator}<!DOCTYPE rss [{separator}'
        f'<!ENTITY xxe SYSTEM "file:///etc/passwd">{separator}'
        f'<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd">{separator}%remote;{separator}]>\n'
        '<rss version="2.0"><channel><title>t &xxe;</title><item><title>x &xxe;</title>'
        "<description>&xxe;</description></item></channel></rss>"
    ).encode()
    feed = parse(body)
    assert feed.entries[0].title.startswith("x")
    text = all_text(feed)
    assert "root:" not in text
    assert "/bin/" not in text


# --------------------------------------------------------------------------- broken input


@pytest.mark.parametrize(
    "reference", ["&#xD800;", "&#55296;", "&#x110000;", "&#99999999999;", "&#xDFFF;&#xD800;"]
)
def test_invalid_character_references_recovered(reference: str) -> None:
    body = rss(f"<item><title>a{reference}b</title><link>https://example.com/1</link></item>")
    feed = parse(body)
    assert feed.entries[0].title == "ab"
    assert feed.entries[0].link == "https://example.com/1"


def test_nul_character_reference_stripped() -> None:
    body = rss("<item><title>a&#0;b</title><description>c&#0;d&#1;e</description></item>")
    feed = parse(body)
    assert feed.entries[0].title == "ab"
    assert feed.entries[0].summary == "cde"
    assert "\x00" not in all_text(feed)


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


def test_naive_now_is_taken_as_utc() -> None:
    body = rss("<item><title>f</title><pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>")
    feed = parse_feed(body, {}, URL, now=datetime(2024, 6, 1, 12, 0))
    assert feed.entries[0].published == NOW


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


def test_permalink_guid_resolved_like_a_link() -> None:
    body = rss('<item><guid>12345</guid></item><item><guid isPermaLink="false">12345</guid></item>')
    permalink, opaque = parse(body).entries
    assert permalink.guid == "https://example.com/feeds/12345"
    assert permalink.link == "https://example.com/feeds/12345"
    assert opaque.guid == "12345"
    assert opaque.link is None


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


# --------------------------------------------------------------------------- not feeds


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


def test_jsonfeed_without_items_is_an_empty_feed() -> None:
    feed = parse(b'{"version": "https://jsonfeed.org/version/1"}', {"content-type": "text/html"})
    assert feed.entries == () and feed.format == "json10"
    assert any("items" in warning for warning in feed.warnings)


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


def test_relative_links_resolve_against_content_location() -> None:
    body = rss("<item><title>r</title><link>post/9</link></item>").replace(
        b"<link>https://example.com/</link>", b"<link>/home</link>"
    )
    feed = parse(body, {"content-location": "/mirror/feed.xml"})
    assert feed.link == "https://example.com/home"
    assert feed.entries[0].link == "https://example.com/mirror/post/9"


# --------------------------------------------------------------------------- hostile content

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


@pytest.mark.parametrize("wrap", ["cdata", "escaped", "elements"])
def test_deep_nesting_does_not_hang(wrap: str) -> None:
    depth = 100_000
    deep = "<div>" * depth + "deep text" + "</div>" * depth
    if wrap == "cdata":
        description = f"<![CDATA[{deep}]]>"
    elif wrap == "escaped":
        description = deep.replace("<", "&lt;").replace(">", "&gt;")
    else:
        description = deep
    feed = parse(rss(f"<item><title>deep</title><description>{description}</description></item>"))
    (entry,) = feed.entries
    assert entry.title == "deep"
    assert entry.summary is None or entry.summary.count("<div>") <= 1000


# --------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"", None, "empty"),
        (b" \r\n ", "application/rss+xml", "empty"),
        (b"\xef\xbb\xbf", None, "empty"),
        (b'{"version": 1}', None, "json"),
        (b'  \n{"a": 1}', "text/plain", "json"),
        (b"\xef\xbb\xbf{}", None, "json"),
        (b"[1, 2]", "application/json", "json"),
        (b"", "application/feed+json", "empty"),
        (b"not json at all", "application/feed+json", "json"),
        (b"<rss/>", "application/json", "xml"),
        (b'<?xml version="1.0"?><rss/>', None, "xml"),
        (b'<?xml version="1.0"?><rss/>', "text/html", "xml"),
        (b"<!DOCTYPE html><html></html>", None, "html"),
        (b"<!-- c --><!doctype HTML>\n<html lang=en>", None, "html"),
        (b"<html><body>", "application/rss+xml", "html"),
        (b"<HEAD><TITLE>x</TITLE></HEAD>", None, "html"),
        (b'<?xml version="1.0"?><!DOCTYPE html PUBLIC "x" "y"><rss/>', None, "xml"),
        (b"<!DOCTYPE html>", None, "html"),
        (b"plain words", "text/html", "html"),
        (b"plain words", None, "xml"),
        ('<rss version="2.0"/>'.encode("utf-16-le"), None, "xml"),
        ("\ufeff<html><body>".encode("utf-16-be"), None, "html"),
    ],
)
def test_sniff_format(body: bytes, content_type: str | None, expected: str) -> None:
    assert sniff_format(body, content_type) == expected


def test_parse_is_deterministic_and_pure() -> None:
    first = parse(RSS20)
    second = parse(RSS20)
    assert first == second
    assert parse(HATENA_RSS10, {"content-type": "application/rdf+xml"}) == parse(HATENA_RSS10)


def test_warnings_for_bozo_feed_with_entries() -> None:
    body = rss("<item><title>ok</title><description>AT&T &nbsp; broken</description></item>")
    feed = parse(body)
    assert feed.entries[0].title == "ok"
    assert any("malformed" in warning for warning in feed.warnings)


def test_now_must_clamp_relative_to_argument() -> None:
    body = rss("<item><title>f</title><pubDate>Sun, 02 Jun 2024 11:00:00 GMT</pubDate></item>")
    assert parse(body).entries[0].published == datetime(2024, 6, 2, 11, 0, tzinfo=UTC)
    later = parse_feed(body, {}, URL, now=NOW - timedelta(days=30))
    assert later.entries[0].published == NOW - timedelta(days=30)


def test_entity_reference_hidden_in_character_reference_refused() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "ha">\n'
        b'<!ENTITY b "&#38;a;&#x26;a;&#38;a;">\n]>\n'
        b'<rss version="2.0"><channel><title>&b;</title></channel></rss>'
    )
    with pytest.raises(ParseError, match="entity declarations"):
        parse(body)


def test_parameter_entity_declaring_markup_refused() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % decl "<!ENTITY big \'xxxxxxxx\'>"> %decl;]>'
        b'<rss version="2.0"><channel><title>&big;</title></channel></rss>'
    )
    with pytest.raises(ParseError, match="entity declarations"):
        parse(body)


def test_quadratic_blowup_after_junk_prolog_is_bounded() -> None:
    value = "b" * 10_000
    body = (
        "junk before the doctype\n<!DOCTYPE rss [\n"
        f'<!ENTITY big "{value}">\n]>\n<rss version="2.0"><channel><title>t</title>'
        f"<item><title>x</title><description>{'&big;' * 20_000}</description></item></channel></rss>"
    ).encode()
    feed = parse(body)
    assert feed.entries == ()
    assert len(all_text(feed)) < 10_000
    assert {d.kind for d in feed.damage} >= {"entities"}


def test_ideographic_space_in_titles_is_kept() -> None:
    title = "ガンジーもタージマハルも…\u3000インドで進む歴史書き換え"
    feed = parse(rss(f"<item><title>  {title}\u3000</title><category>タグ\u3000一</category></item>"))
    assert feed.entries[0].title == title
    assert feed.entries[0].tags == ("タグ\u3000一",)


def test_hatena_without_description_does_not_use_the_widget_as_summary() -> None:
    body = HATENA_RSS10.replace(
        "<description>Software Engineering DailyのJeff Meyersonが書いた本を読んだ．</description>".encode(),
        b"",
    )
    (entry,) = parse(body).entries
    assert entry.content is None
    assert entry.summary is None


def test_limit_html_depth() -> None:
    from aggregator.sanitize import limit_html_depth

    ordinary = "<div>" + "<p>para <b>bold</b> <a href='/x'>link</a><br></p>" * 500 + "</div>"
    assert limit_html_depth(ordinary) is ordinary
    unclosed_list = "<ul>" + "<li>item <b>x</b>" * 1000 + "</ul>"
    assert limit_html_depth(unclosed_list) is unclosed_list
    unclosed_table = "<table>" + "<tr><td>a<td><p>b<div>c</div>" * 1000 + "</table>"
    assert limit_html_depth(unclosed_table) is unclosed_table
    deep = "<div>" * 10_000 + "x" + "</div>" * 10_000
    limited = limit_html_depth(deep, max_depth=50)
    assert limited.count("<div>") == 50 and limited.count("</div>") == 50
    assert "x" in limited
    stray_ends = "<div></span>" * 10_000
    assert limit_html_depth(stray_ends, max_depth=50).count("<div>") == 50
    self_closing = "<div/>" * 10_000
    assert limit_html_depth(self_closing, max_depth=50).count("<div/>") == 50
    across_tables = "<div><table><td></div>" * 5_000
    assert limit_html_depth(across_tables, max_depth=60).count("<table>") <= 20
