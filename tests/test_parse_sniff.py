"""parse.sniff: empty, JSON, XML or HTML, from the first bytes and the Content-Type."""

from __future__ import annotations

import pytest

from aggregator.parse import sniff_format


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
