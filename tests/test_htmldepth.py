"""htmldepth: untrusted HTML nests at most ``max_depth`` deep before a tree builder sees it.

The oracle is a real HTML parser (html5lib): for each deep fragment, the tree it builds
from our output is at most ``max_depth`` deep, and no text was lost (only tags are dropped
or added). Fragments whose real depth stays within the limit come back unchanged, the
very same string.
"""

from __future__ import annotations

import re

import html5lib
import pytest
from feeddocs import parse, rss

from aggregator.htmldepth import MAX_HTML_DEPTH, limit_html_depth

LIMIT = 50
TAGS = re.compile(r"<[^<>]*>")


def tree_depth(fragment: str) -> int:
    """How deep html5lib nests the elements of ``fragment``."""
    root = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    deepest = 0
    stack = [(child, 1) for child in root]
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in element)
    return deepest


def text_of(fragment: str) -> str:
    return TAGS.sub("", fragment)


DEEP = [
    pytest.param("<div>" * 300 + "x" + "</div>" * 300, id="nested-divs"),
    pytest.param("<div>" * 300 + "unclosed", id="unclosed-divs"),
    pytest.param("<div/>" * 300, id="self-closing-div-opens"),
    pytest.param("<li>x<ul>" * 200, id="nested-lists"),
    pytest.param("<dl><dt>a<dd>b" * 200, id="definition-lists"),
    pytest.param("<p><b>x<div>" * 300, id="paragraph-closed-by-block"),
    pytest.param("<a><b><i>" * 200, id="formatting-reopened"),
    pytest.param("<svg>" + "<g>" * 300, id="foreign-content"),
    pytest.param("<table><tbody><tr><td><div>" * 100, id="tables-in-cells"),
    pytest.param("<span>" * 150 + "<div>" * 150, id="phrasing-then-blocks"),
]


@pytest.mark.parametrize("fragment", DEEP)
def test_deep_fragments_are_bounded_and_keep_their_text(fragment: str) -> None:
    assert tree_depth(fragment) > LIMIT  # the case really is deep
    limited = limit_html_depth(fragment, max_depth=LIMIT)
    assert tree_depth(limited) <= LIMIT
    assert text_of(limited) == text_of(fragment)


SHALLOW = [
    pytest.param(
        "<div>" + "<p>para <b>bold</b> <a href='/x'>link</a><br></p>" * 500 + "</div>", id="long-flat"
    ),
    pytest.param("<ul>" + "<li>item <b>x</b>" * 1000 + "</ul>", id="unclosed-list-items"),
    pytest.param("<table>" + "<tr><td>a<td><p>b<div>c</div>" * 1000 + "</table>", id="unclosed-cells"),
    pytest.param("<p>" + "<br><img src=x><hr>" * 500, id="void-elements"),
    pytest.param("<b><p>" * 300, id="paragraphs-close-each-other"),
    pytest.param("<div>" * LIMIT + "x" + "</div>" * LIMIT, id="exactly-the-limit"),
    pytest.param("plain text, no tags", id="no-tags"),
]


@pytest.mark.parametrize("fragment", SHALLOW)
def test_fragments_within_the_limit_are_returned_unchanged(fragment: str) -> None:
    assert tree_depth(fragment) <= LIMIT
    assert limit_html_depth(fragment, max_depth=LIMIT) is fragment


def test_default_limit() -> None:
    deep = "<div>" * (MAX_HTML_DEPTH + 10) + "x"
    assert tree_depth(limit_html_depth(deep)) == MAX_HTML_DEPTH
    within = "<div>" * MAX_HTML_DEPTH + "x"
    assert limit_html_depth(within) is within


def test_limit_html_depth() -> None:
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
