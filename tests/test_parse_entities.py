"""parse.entities: internal entities expanded by us, within a budget, and the entries past it dropped whole.

``expand_entities`` is pure text in, text out; the budget tests go through
``parse_feed`` to show what is stored. Expected counts come from the input:
how many copies of a value fit max(floor, body size).
"""

from __future__ import annotations

from datetime import UTC, datetime

import feeddocs
import pytest
from feeddocs import all_text

from aggregator.errors import ParseError
from aggregator.parse import ENTITY_EXPANSION_FACTOR, ENTITY_EXPANSION_FLOOR, ParsedFeed, parse_feed
from aggregator.parse.entities import NOT_EXPANDED, expand_entities

NOW = datetime(2026, 7, 1, tzinfo=UTC)
URL = "https://example.org/feed"
BIG = "x" * 10 * 1024


def with_entities(declarations: str, body: str) -> str:
    return f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n{declarations}\n]>\n{body}'


def rss_with(declarations: str, channel_title: str, items: list[str]) -> bytes:
    body = (
        f'<rss version="2.0"><channel><title>{channel_title}</title><link>https://example.org/</link>'
        + "".join(items)
        + "</channel></rss>"
    )
    return with_entities(declarations, body).encode()


def item(n: int, description: str) -> str:
    return (
        f"<item><title>Post {n}</title><link>https://example.org/{n}</link>"
        f"<description>{description}</description></item>"
    )


def budget_for(body: bytes) -> int:
    return max(ENTITY_EXPANSION_FLOOR, ENTITY_EXPANSION_FACTOR * len(body))


def parse(body: bytes) -> ParsedFeed:
    return parse_feed(body, {}, URL, now=NOW)


# --------------------------------------------------------------------------- expand_entities

EXPANSIONS = [
    ("content", '<!ENTITY co "ACME">', "<t>&co; news</t>", "<t>ACME news</t>"),
    ("character references resolved", '<!ENTITY c "&#169; ACME">', "<t>&c;</t>", "<t>\u00a9 ACME</t>"),
    ("markup in the value", '<!ENTITY b "<b>bold</b>">', "<t>&b;</t>", "<t><b>bold</b></t>"),
    ("CDATA kept", '<!ENTITY co "ACME">', "<t><![CDATA[&co;]]></t>", "<t><![CDATA[&co;]]></t>"),
    ("comment kept", '<!ENTITY co "ACME">', "<t><!-- &co; --></t>", "<t><!-- &co; --></t>"),
    ("predefined left", '<!ENTITY co "ACME">', "<t>&amp;&lt;</t>", "<t>&amp;&lt;</t>"),
    ("undefined left", '<!ENTITY co "ACME">', "<t>&nbsp;</t>", "<t>&nbsp;</t>"),
    (
        "attribute value escaped",
        "<!ENTITY q 'say \"hi\" <now>'>",
        '<a title="&q;" href="/x?a=1&amp;b=2">&q;</a>',
        '<a title="say &quot;hi&quot; &lt;now>" href="/x?a=1&amp;b=2">say "hi" <now></a>',
    ),
]


@pytest.mark.parametrize(
    ("declaration", "body", "expected"), [e[1:] for e in EXPANSIONS], ids=[e[0] for e in EXPANSIONS]
)
def test_expand_entities(declaration: str, body: str, expected: str) -> None:
    text = with_entities(declaration, body)
    expansion = expand_entities(text, len(text))
    assert expansion.text == with_entities(declaration, expected)
    assert expansion.capped == 0


def test_document_without_declarations_is_unchanged() -> None:
    text = '<rss version="2.0"><channel><title>&amp; &nbsp;</title></channel></rss>'
    expansion = expand_entities(text, len(text))
    assert (expansion.text, expansion.expanded, expansion.capped) == (text, 0, 0)


def test_references_past_the_budget_become_the_mark() -> None:
    refs = 50
    text = with_entities(f'<!ENTITY big "{BIG}">', "<t>" + "&big;" * refs + "</t>")
    expansion = expand_entities(text, len(text))
    fitting = expansion.budget // len(BIG)
    assert expansion.budget == ENTITY_EXPANSION_FLOOR  # the body is far smaller than the floor
    assert (expansion.expanded, expansion.capped) == (fitting, refs - fitting)
    document = expansion.text.split("]>", 1)[1]  # after the declaration, which holds one copy
    assert document.count(BIG) == fitting
    assert document.count(NOT_EXPANDED) == refs - fitting


def test_nested_declarations_are_still_refused() -> None:
    text = with_entities('<!ENTITY a "ha">\n<!ENTITY b "&a;&a;">', "<t>&b;</t>")
    with pytest.raises(ParseError, match="entity declarations"):
        expand_entities(text, len(text))


# --------------------------------------------------------------------------- what is stored


def test_ten_kilobyte_entity_referenced_fifty_times_is_bounded_and_flagged() -> None:
    refs = 50
    body = rss_with(f'<!ENTITY big "{BIG}">', "Blog", [item(n, f"&big; {n}") for n in range(refs)])
    fitting = budget_for(body) // len(BIG)
    feed = parse(body)
    # The entries that fit are kept whole; those whose reference was not expanded are dropped.
    assert [e.title for e in feed.entries] == [f"Post {n}" for n in range(fitting)]
    assert all(e.summary == f"{BIG} {n}" for n, e in enumerate(feed.entries))
    stored = sum(len(e.summary or "") + len(e.title) for e in feed.entries)
    assert stored < budget_for(body) + 1024 < refs * len(BIG) // 4
    assert [d.kind for d in feed.damage] == ["entities"]
    assert feed.damage_summary == (
        f"entity expansion capped at {budget_for(body)} characters: "
        f"{refs - fitting} references not expanded; kept {fitting} of {refs} entries"
    )


def test_only_the_entry_holding_the_excess_is_dropped() -> None:
    items = [item(0, "plain"), item(1, "&big;" * 50), item(2, "also plain &small;")]
    body = rss_with(f'<!ENTITY big "{BIG}">\n<!ENTITY small "s">', "Blog", items)
    feed = parse(body)
    assert [(e.title, e.summary) for e in feed.entries] == [("Post 0", "plain"), ("Post 2", "also plain s")]
    assert (feed.damage_summary or "").endswith("kept 2 of 3 entries")


def test_capped_reference_in_the_channel_title_leaves_no_mark() -> None:
    refs = 10
    body = rss_with(f'<!ENTITY big "{BIG}">', "Blog " + "&big;" * refs, [item(0, "plain")])
    feed = parse(body)
    assert feed.title is not None and NOT_EXPANDED not in feed.title
    assert [e.summary for e in feed.entries] == ["plain"]
    assert [d.kind for d in feed.damage] == ["entities"]


def test_capped_reference_in_an_attribute_drops_the_entry() -> None:
    filler = [item(n, "&big;") for n in range(ENTITY_EXPANSION_FLOOR // len(BIG))]
    enclosure = '<enclosure url="https://example.org/&big;.mp3" type="audio/mpeg" length="1"/>'
    last = item(99, "x").replace("</item>", enclosure + "</item>")
    body = rss_with(f'<!ENTITY big "{BIG}">', "Blog", [*filler, last])
    assert budget_for(body) == ENTITY_EXPANSION_FLOOR  # so the filler uses up the budget
    feed = parse(body)
    assert [e.title for e in feed.entries] == [f"Post {n}" for n in range(len(filler))]
    assert (feed.damage_summary or "").endswith(f"kept {len(filler)} of {len(filler) + 1} entries")


def test_small_entities_used_often_stay_within_the_budget() -> None:
    refs = 2_000
    body = rss_with('<!ENTITY nbsp "&#160;">', "Blog", [item(0, "a&nbsp;b " * refs)])
    feed = parse(body)
    assert feed.damage == ()
    assert expand_entities(body.decode(), len(body)).expanded == refs
    assert (feed.entries[0].summary or "").count("&nbsp;") == refs  # U+00A0, as the sanitizer writes it


# --------------------------------------------------------------------------- moved from test_parse.py

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


@pytest.mark.parametrize(
    "reference", ["&#xD800;", "&#55296;", "&#x110000;", "&#99999999999;", "&#xDFFF;&#xD800;"]
)
def test_invalid_character_references_recovered(reference: str) -> None:
    body = feeddocs.rss(f"<item><title>a{reference}b</title><link>https://example.com/1</link></item>")
    feed = parse(body)
    assert feed.entries[0].title == "ab"
    assert feed.entries[0].link == "https://example.com/1"


def test_nul_character_reference_stripped() -> None:
    body = feeddocs.rss("<item><title>a&#0;b</title><description>c&#0;d&#1;e</description></item>")
    feed = parse(body)
    assert feed.entries[0].title == "ab"
    assert feed.entries[0].summary == "cde"
    assert "\x00" not in all_text(feed)
