"""A feed's declared language: cleaned to a tag fit for ``lang``, read from RSS, RDF, Atom and JSON Feed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from aggregator.parse import parse_feed
from aggregator.parse.language import clean_language

NOW = datetime(2024, 9, 1, tzinfo=UTC)
ITEM = "<item><title>t</title><link>https://example.jp/1</link></item>"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ja", "ja"),
        (" ja-JP ", "ja-JP"),
        ("en_US", "en-US"),
        ("zh-Hant-TW", "zh-Hant-TW"),
        ("", None),
        ("japanese language", None),
        ('ja" onload="x', None),
        ("x" * 40, None),
        (None, None),
        (7, None),
    ],
)
def test_clean_language(value: object, expected: str | None) -> None:
    assert clean_language(value) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            f'<rss version="2.0"><channel><title>t</title><language>ja</language>{ITEM}</channel></rss>',
            "ja",
        ),
        (f'<rss version="2.0"><channel><title>t</title>{ITEM}</channel></rss>', None),
        (
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"'
            ' xmlns:dc="http://purl.org/dc/elements/1.1/"><channel rdf:about="https://example.jp/">'
            "<title>t</title><link>https://example.jp/</link><dc:language>ja-JP</dc:language></channel>"
            '<item rdf:about="https://example.jp/1"><title>t</title><link>https://example.jp/1</link></item>'
            "</rdf:RDF>",
            "ja-JP",
        ),
        (
            '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-GB"><title>t</title><id>urn:x</id>'
            "<updated>2024-01-01T00:00:00Z</updated><entry><title>t</title><id>urn:1</id>"
            '<link href="https://example.org/1"/><updated>2024-01-01T00:00:00Z</updated></entry></feed>',
            "en-GB",
        ),
    ],
)
def test_xml_feed_language(body: str, expected: str | None) -> None:
    feed = parse_feed(
        ('<?xml version="1.0" encoding="UTF-8"?>' + body).encode(),
        {"content-type": "application/xml"},
        "https://example.jp/feed",
        now=NOW,
    )
    assert feed.language == expected


@pytest.mark.parametrize(("declared", "expected"), [({"language": "ja"}, "ja"), ({}, None)])
def test_json_feed_language(declared: dict[str, str], expected: str | None) -> None:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "items": [{"id": "1", "url": "https://example.jp/1", "content_text": "x"}],
        **declared,
    }
    feed = parse_feed(
        json.dumps(document).encode(),
        {"content-type": "application/feed+json"},
        "https://example.jp/f",
        now=NOW,
    )
    assert feed.language == expected
