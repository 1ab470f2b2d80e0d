"""parse.recovery through parse_feed: what a truncated or malformed document keeps, and the damage it reports.

Harmless feedparser notes (an encoding label the bytes override) are no damage.
Expected values come from the documents themselves: the entries complete before
a cut, the line a broken tag stands on.
"""

from __future__ import annotations

import io
import xml.sax
from collections.abc import Callable
from datetime import UTC, datetime

import feeddocs
import feedparser
import pytest

from aggregator.parse import ParsedFeed, parse_feed
from aggregator.parse.recovery import strict_parse_failure

NOW = datetime(2026, 7, 1, tzinfo=UTC)
URL = "https://example.org/feed"


def rss(count: int, head: str = "") -> str:
    items = "".join(
        f"<item><title>Post {n}</title><link>https://example.org/{n}</link>"
        f"<description>Text of post {n}</description></item>\n"
        for n in range(count)
    )
    return (
        f'{head}<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Blog</title>'
        f"<link>https://example.org/</link>\n{items}</channel></rss>\n"
    )


def atom(count: int) -> str:
    entries = "".join(
        f"<entry><title>Post {n}</title><id>urn:post:{n}</id>"
        f'<link href="https://example.org/{n}"/><updated>2024-02-05T10:00:00Z</updated></entry>\n'
        for n in range(count)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Blog</title><id>urn:blog</id><updated>2024-02-05T10:00:00Z</updated>\n{entries}</feed>\n"
    )


def parse(body: str | bytes, headers: dict[str, str] | None = None, max_entries: int = 1000) -> ParsedFeed:
    data = body.encode() if isinstance(body, str) else body
    return parse_feed(data, headers or {}, URL, now=NOW, max_entries=max_entries)


# --------------------------------------------------------------------------- truncated documents

Cut = Callable[[str], int]
CUTS: dict[str, tuple[Callable[[int], str], str, Cut]] = {
    "rss inside an item's title": (rss, "item", lambda d: d.index("<title>Post 8") + 10),
    "rss inside an item's link": (rss, "item", lambda d: d.index("<link>https://example.org/8") + 14),
    "rss inside an item's start tag": (rss, "item", lambda d: d.index("<title>Post 8") - 3),
    "rss between two items": (rss, "item", lambda d: d.index("<item><title>Post 8")),
    "rss before </channel>": (rss, "item", lambda d: d.index("</channel>")),
    "rss before </rss>": (rss, "item", lambda d: d.index("</rss>")),
    "atom inside an entry": (atom, "entry", lambda d: d.index("<id>urn:post:7") + 5),
    "atom inside an entry's start tag": (atom, "entry", lambda d: d.index("<title>Post 7") - 4),
}


@pytest.mark.parametrize("case", CUTS)
def test_truncated_document_keeps_the_complete_entries_and_says_so(case: str) -> None:
    build, element, cut_at = CUTS[case]
    document = build(10)
    body = document[: cut_at(document)]
    complete = body.count(f"</{element}>")
    started = body.count(f"<{element}>")  # start tags that made it whole
    feed = parse(body)
    assert [e.title for e in feed.entries] == [f"Post {n}" for n in range(complete)]
    assert all(e.link == f"https://example.org/{n}" for n, e in enumerate(feed.entries))
    assert [d.kind for d in feed.damage] == ["truncated"]
    root = "rss" if element == "item" else "feed"
    last_line = body.rstrip().count("\n") + 1  # the body's last line that holds anything
    summary = feed.damage_summary or ""
    assert summary.startswith(f"document truncated at line {last_line}: no closing </{root}>")
    if started > complete:
        assert summary.endswith(f"incomplete last entry dropped; kept {complete} of {started} entries")
    else:
        assert summary.endswith(f"; recovered {complete} entries")


def test_truncated_hatena_rdf_drops_its_open_item() -> None:
    items = "".join(
        f'<item rdf:about="https://example.jp/{n}"><title>記事{n}</title><link>https://example.jp/{n}</link></item>\n'
        for n in range(3)
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://b.hatena.ne.jp/"><title>h</title>'
        f"<link>https://b.hatena.ne.jp/</link></channel>\n{items}</rdf:RDF>"
    )
    body = document[: document.index("<title>記事2") + 6]
    feed = parse(body)
    assert [e.link for e in feed.entries] == ["https://example.jp/0", "https://example.jp/1"]
    assert "no closing </rdf:RDF>, incomplete last entry dropped; kept 2 of 3 entries" in (
        feed.damage_summary or ""
    )


# --------------------------------------------------------------------------- malformed documents


def test_truncated_document_broken_earlier_reports_both_lines() -> None:
    document = rss(5).replace("<title>Post 1</title>", "<title>Post <b>1</title>")
    body = document[: document.index("<title>Post 4") + 10]
    broken_line = document[: document.index("<b>1")].count("\n") + 1
    end_line = body.rstrip().count("\n") + 1
    feed = parse(body)
    assert [d.detail for d in feed.damage] == [
        f"document truncated at line {end_line}: no closing </rss>, incomplete last entry dropped",
        f"XML not well-formed at line {broken_line}: mismatched tag",
    ]
    assert [e.title for e in feed.entries] == [f"Post {n}" for n in range(4)]


def test_mismatched_tag_names_its_line_and_keeps_what_was_read() -> None:
    document = rss(5).replace("<title>Post 3</title>", "<title>Post <b>3</title>")
    line = document[: document.index("<b>3")].count("\n") + 1
    feed = parse(document)
    assert [d.detail for d in feed.damage] == [f"XML not well-formed at line {line}: mismatched tag"]
    assert feed.damage_summary == f"XML not well-formed at line {line}: mismatched tag; recovered 5 entries"
    assert len(feed.entries) == 5


def test_undefined_entity_is_named_with_the_line_of_the_original_document() -> None:
    # Leading blank lines are cut before parsing; the line reported is the line in the body.
    document = rss(3, head="\n\n").replace("<title>Post 1", "<title>Post&nbsp;1")
    line = document[: document.index("&nbsp;")].count("\n") + 1
    feed = parse(document)
    assert [d.detail for d in feed.damage] == [f"XML not well-formed at line {line}: undefined entity &nbsp;"]
    assert [e.title for e in feed.entries] == ["Post 0", "Post\xa01", "Post 2"]


def test_invalid_bytes_are_damage() -> None:
    body = rss(2).replace("Post 1", "日本語の記事").encode().replace("の記事".encode(), b"\xff\xfe")
    feed = parse(body)
    assert feed.entries[1].title == "日本語\ufffd\ufffd"
    assert [d.kind for d in feed.damage] == ["encoding"]
    assert feed.damage_summary == "invalid utf-8 bytes replaced; recovered 2 entries"


def test_per_feed_cap_is_damage() -> None:
    feed = parse(rss(5), max_entries=3)
    assert [d.kind for d in feed.damage] == ["cap"]
    assert (feed.damage_summary or "").endswith("kept 3 of 5 entries")


def test_json_feed_items_that_are_not_objects_are_damage() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "j", "items": '
        b'[{"id": "1", "url": "https://example.org/1", "title": "one"}, 7, "x"]}'
    )
    feed = parse(body)
    assert [d.kind for d in feed.damage] == ["skipped"]
    assert feed.damage_summary == "2 JSON Feed items are not objects, skipped; kept 1 of 3 entries"


# --------------------------------------------------------------------------- harmless and clean


def test_encoding_override_is_bozo_to_feedparser_but_no_damage() -> None:
    body = rss(2).replace("Post 1", "日本語の記事").encode()
    raw = feedparser.parse(io.BytesIO(body), response_headers={"content-type": "text/plain"})
    assert raw.bozo and isinstance(raw.bozo_exception, feedparser.CharacterEncodingOverride)
    feed = parse(body, {"content-type": "text/plain"})
    assert (feed.damage, feed.damage_summary) == ((), None)
    assert [e.title for e in feed.entries] == ["Post 0", "日本語の記事"]


def test_declared_encoding_the_bytes_override_is_no_damage() -> None:
    body = rss(2).replace("Post 1", "Café").encode("cp1252")  # declared utf-8
    feed = parse(body, {"content-type": "application/rss+xml"})
    assert any("override" in warning for warning in feed.warnings)
    assert feed.damage == ()
    assert feed.entries[1].title == "Café"


def sax_error() -> Exception:
    """The exception feedparser's strict parser really raises on a mismatched tag."""
    result = feedparser.parse(io.BytesIO(b"<rss><channel><title>t</b></channel></rss>"))
    assert isinstance(result.bozo_exception, xml.sax.SAXParseException)
    return result.bozo_exception


@pytest.mark.parametrize(
    ("make", "is_failure"),
    [
        (lambda: feedparser.CharacterEncodingOverride("declared us-ascii, parsed as utf-8"), False),
        (lambda: feedparser.NonXMLContentType("text/plain is not an XML media type"), False),
        (sax_error, True),
        (lambda: feedparser.UndeclaredNamespace("'x' is not associated with a namespace"), True),
    ],
    ids=["encoding override", "non-XML content type", "SAX parse error", "undeclared namespace"],
)
def test_strict_parse_failure_tells_harmless_notes_from_failures(
    make: Callable[[], Exception], is_failure: bool
) -> None:
    exception = make()
    failure = strict_parse_failure({"bozo": True, "bozo_exception": exception})
    assert failure is (exception if is_failure else None)


def test_clean_document_has_no_damage() -> None:
    feed = parse(rss(3))
    assert (feed.damage, feed.damage_summary) == ((), None)
    assert strict_parse_failure({"bozo": False}) is None


# --------------------------------------------------------------------------- moved from test_parse.py


def test_warnings_for_bozo_feed_with_entries() -> None:
    body = feeddocs.rss("<item><title>ok</title><description>AT&T &nbsp; broken</description></item>")
    feed = parse(body)
    assert feed.entries[0].title == "ok"
    assert any("malformed" in warning for warning in feed.warnings)
