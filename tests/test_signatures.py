"""``signatures``: a gzip body is recognized by its first bytes."""

import gzip

import pytest

from aggregator.signatures import is_gzip


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (gzip.compress(b"<rss/>"), True),
        (b"<?xml version='1.0'?><rss/>", False),
        (b"\x1f", False),
        (b"", False),
        (b"\x8b\x1f", False),
    ],
)
def test_is_gzip(data: bytes, expected: bool) -> None:
    assert is_gzip(data) is expected
