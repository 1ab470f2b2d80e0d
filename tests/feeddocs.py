"""Small inline feed documents and a ``parse`` shortcut shared by the tests of ``aggregator.parse``.

One RSS 2.0, Hatena RSS 1.0, Atom 1.0 / 0.3, Netscape RSS 0.91 and JSON Feed 1.0 / 1.1
document each, with the expected values written in the tests that read them.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

from aggregator.parse import ParsedFeed, parse_feed

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
