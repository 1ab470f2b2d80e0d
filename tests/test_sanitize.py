"""sanitize: the allowlist that decides what markup, text and URLs survive into storage and our feeds.

Each table row is an input and what a reader of the republished feed must see: allowed
tags and attributes kept, scripts, styles and event handlers gone with their content,
links only absolute http(s) (plus mailto inside HTML), text one line without control
characters but with the ideographic space of Japanese titles.
"""

from __future__ import annotations

import html
import re

import nh3
import pytest
from feeddocs import parse, rss
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.sanitize import (
    MAX_TEXT,
    RAW_TEXT_FACTOR,
    URL_SCHEMES,
    clean_html,
    clean_text,
    excerpt,
    safe_url,
    strip_invalid_chars,
)

REL = 'rel="noopener noreferrer nofollow"'


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param('<p onclick="x()">Hi <b>there</b></p>', "<p>Hi <b>there</b></p>", id="handler-dropped"),
        pytest.param("<p>a<script>alert(1)</script>b</p>", "<p>ab</p>", id="script-and-content"),
        pytest.param("<style>p{color:red}</style>text", "text", id="style-and-content"),
        pytest.param('<iframe src="https://evil.example">in</iframe>after', "after", id="iframe-and-content"),
        pytest.param("<!-- note -->t", "t", id="comment"),
        pytest.param(
            '<a href="https://e.example/">l</a>', f'<a href="https://e.example/" {REL}>l</a>', id="link"
        ),
        pytest.param(
            '<a href="mailto:a@e.example">m</a>', f'<a href="mailto:a@e.example" {REL}>m</a>', id="mailto"
        ),
        pytest.param('<a href="javascript:alert(1)">j</a>', f"<a {REL}>j</a>", id="javascript-href"),
        pytest.param(
            '<img src="https://e.example/i.png" onerror="x">', '<img src="https://e.example/i.png">', id="img"
        ),
        pytest.param('<td colspan="2" style="x">a</td>', "a", id="cell-outside-table-is-text"),
        pytest.param("&#1;x\x00y", "xy", id="control-characters"),
        pytest.param("<script>only</script>", None, id="nothing-left"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_clean_html(html: str | None, expected: str | None) -> None:
    assert clean_html(html) == expected


def test_clean_html_keeps_allowed_table_attributes_only() -> None:
    cleaned = clean_html('<table><tr><td colspan="2" style="color:red" class="c">a</td></tr></table>')
    assert cleaned is not None
    assert 'colspan="2"' in cleaned and "style" not in cleaned and "class" not in cleaned
    assert cleaned.startswith("<table>") and cleaned.endswith("</table>")


def test_clean_html_limit_cuts_the_input() -> None:
    assert clean_html("<p>" + "a" * 100 + "</p>", limit=13) == "<p>" + "a" * 10 + "</p>"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<b>bold</b> &amp; co", "bold & co"),
        ("  a \n\t b  ", "a b"),
        ("a\u3000b\u3000", "a\u3000b\u3000"),
        ("a&nbsp;b", "a\u00a0b"),
        ("x\x00y\x07z\x7f", "xyz"),
        ("a\ud800b\ufffe", "ab"),
        ("<script>alert(1)</script>Title", "Title"),
        ("&lt;not a tag&gt;", "<not a tag>"),
        ("", ""),
        (None, ""),
    ],
)
def test_clean_text(value: str | None, expected: str) -> None:
    assert clean_text(value) == expected


def test_clean_text_is_bounded() -> None:
    assert clean_text("abcdef", limit=3) == "abc"
    assert len(clean_text("x" * (MAX_TEXT * 2))) == MAX_TEXT


@pytest.mark.parametrize(
    ("html", "limit", "expected"),
    [
        ("<p>short</p>", 20, "short"),
        ("<p>" + "word " * 100 + "</p>", 20, "word word word word…"),
        ("<p>exactly 10</p>", 10, "exactly 10"),
        ("<p>twelve chars</p>", 10, "twelve ch…"),
        (None, 20, ""),
    ],
)
def test_excerpt(html: str | None, limit: int, expected: str) -> None:
    assert excerpt(html, limit=limit) == expected
    assert len(excerpt(html, limit=limit)) <= limit


@pytest.mark.parametrize(
    ("url", "link", "in_html"),
    [
        ("https://e.example/a", "https://e.example/a", "https://e.example/a"),
        ("http://e.example", "http://e.example", "http://e.example"),
        ("HTTPS://E.EXAMPLE/", "HTTPS://E.EXAMPLE/", "HTTPS://E.EXAMPLE/"),
        (" https://e.example/ ", "https://e.example/", "https://e.example/"),
        ("http://e.example/\x00a", "http://e.example/a", "http://e.example/a"),
        ("mailto:a@e.example", None, "mailto:a@e.example"),
        ("javascript:alert(1)", None, None),
        ("data:text/html,x", None, None),
        ("ftp://e.example/", None, None),
        ("/relative", None, None),
        ("https://", None, None),
        ("https://e.example/a b", None, None),
        ("https://[::1", None, None),
        ("https://e.example/" + "a" * 5000, None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_safe_url(url: str | None, link: str | None, in_html: str | None) -> None:
    assert safe_url(url) == link
    assert safe_url(url, schemes=URL_SCHEMES) == in_html


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\x00b", "ab"),
        ("tab\tnl\ncr\r", "tab\tnl\ncr\r"),
        ("\x08\x0b\x0c\x1f", ""),
        ("\ufffe\uffff日本", "日本"),
    ],
)
def test_strip_invalid_chars(value: str, expected: str) -> None:
    assert strip_invalid_chars(value) == expected


def test_ideographic_space_in_titles_is_kept() -> None:
    title = "ガンジーもタージマハルも…\u3000インドで進む歴史書き換え"
    feed = parse(rss(f"<item><title>  {title}\u3000</title><category>タグ\u3000一</category></item>"))
    assert feed.entries[0].title == title
    assert feed.entries[0].tags == ("タグ\u3000一",)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="<&"), max_size=200))
def test_plain_text_is_read_as_the_html_parser_reads_it(value: str) -> None:
    """Text without ``<`` or ``&`` skips the HTML parser; it must come out as if parsed."""
    raw = strip_invalid_chars(value)[: MAX_TEXT * RAW_TEXT_FACTOR]
    parsed = html.unescape(nh3.clean(raw, tags=set()))
    expected = re.sub(r"[^\S\u3000\u00a0]+", " ", strip_invalid_chars(parsed)).strip(" ")[:MAX_TEXT]
    assert clean_text(value) == expected


@pytest.mark.parametrize(
    ("html", "base", "expected"),
    [
        ('<a href="post/2">p</a>', "https://ex.org/blog/", '<a href="https://ex.org/blog/post/2"'),
        ('<img src="/i.png">', "https://ex.org/blog/", '<img src="https://ex.org/i.png">'),
        ('<a href="#top">t</a>', "https://ex.org/a", '<a href="https://ex.org/a#top"'),
        ('<a href="//cdn.ex.org/x">c</a>', "https://ex.org/", '<a href="https://cdn.ex.org/x"'),
        ('<a href="https://other.example/">o</a>', "https://ex.org/", '<a href="https://other.example/"'),
        ('<a href="post/2">p</a>', None, '<a href="post/2"'),  # no base: left relative
        ('<a href="post/2">p</a>', "javascript:alert(1)//", '<a href="post/2"'),  # not a usable base
        ('<a href="post/2">p</a>', "https://ex.org:99999/", '<a href="post/2"'),  # refused by nh3's parser
    ],
)
def test_clean_html_resolves_relative_urls_against_the_base(
    html: str, base: str | None, expected: str
) -> None:
    cleaned = clean_html(html, base=base)
    assert cleaned is not None and cleaned.startswith(expected)


def test_clean_html_with_a_base_still_removes_dangerous_markup() -> None:
    dirty = (
        '<a href="javascript:alert(1)" onclick="x()">a</a><script>alert(2)</script><img src="x" onerror="y">'
    )
    assert clean_html(dirty, base="https://ex.org/") == (
        '<a rel="noopener noreferrer nofollow">a</a><img src="https://ex.org/x">'
    )
