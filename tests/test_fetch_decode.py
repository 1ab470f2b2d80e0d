"""fetch.decode: content codings decoded as the body streams in, within max_bytes; bombs refused."""

from __future__ import annotations

import tracemalloc
import zlib

import pytest
from feedserver import (
    Conn,
    FeedServer,
    Raw,
    endless_body,
    short_body,
)
from fetching import (
    FEED,
    MIB,
    TIGHT,
    compress_zeros,
    failure,
    fetched,
    gz,
    gzip_bomb_members,
    timed_failure,
)

# --------------------------------------------------------------------------- content decoding


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("coding", "payload"),
    [
        ("gzip", gz(FEED)),
        ("x-gzip", gz(FEED)),
        ("GZIP", gz(FEED)),
        ("deflate", zlib.compress(FEED)),
        ("deflate", _raw_deflate(FEED)),
        ("identity", FEED),
        ("", FEED),
    ],
    ids=["gzip", "x-gzip", "GZIP", "deflate-zlib", "deflate-raw", "identity", "empty"],
)
def test_content_encodings_are_decoded(srv: FeedServer, coding: str, payload: bytes) -> None:
    headers = {"Content-Encoding": coding} if coding else {}
    srv.route("/a.xml", payload, headers=headers)
    assert fetched(srv.url("/a.xml")).body == FEED


def test_gzip_split_into_tiny_chunks_is_decoded(srv: FeedServer) -> None:
    payload = gz(FEED * 50)
    srv.raw("/a.xml", _tiny_chunks(payload, {"Content-Encoding": "gzip"}))
    assert fetched(srv.url("/a.xml")).body == FEED * 50


def _tiny_chunks(payload: bytes, headers: dict[str, str]) -> Raw:
    def handler(conn: Conn) -> None:
        conn.send_head(200, {**headers, "Transfer-Encoding": "chunked"})
        for start in range(0, len(payload), 1):
            conn.send(b"1\r\n" + payload[start : start + 1] + b"\r\n")
        conn.send(b"0\r\n\r\n")

    return Raw(handler)


def test_multi_member_gzip_is_fully_decoded(srv: FeedServer) -> None:
    srv.route("/a.xml", gz(FEED) + gz(b"<!-- tail -->"), headers={"Content-Encoding": "gzip"})
    assert fetched(srv.url("/a.xml")).body == FEED + b"<!-- tail -->"


def test_gzip_bomb_of_one_gib_is_refused_without_allocating_it(srv: FeedServer) -> None:
    bomb = gzip_bomb_members(1024 * MIB)
    srv.route("/bomb.xml", bomb, headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        error = failure(srv.url("/bomb.xml"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error.category == "too_large"
    assert peak < 32 * MIB


@pytest.mark.parametrize(
    ("coding", "wbits"), [("gzip", 31), ("deflate", 15), ("deflate", -15)], ids=["gzip", "zlib", "raw"]
)
def test_single_stream_bombs_are_refused(srv: FeedServer, coding: str, wbits: int) -> None:
    srv.route("/bomb.xml", compress_zeros(64 * MIB, wbits), headers={"Content-Encoding": coding})
    assert failure(srv.url("/bomb.xml")).category == "too_large"


@pytest.mark.parametrize(
    "headers",
    [[("Content-Encoding", "gzip, gzip")], [("Content-Encoding", "gzip"), ("Content-Encoding", "deflate")]],
    ids=["one-header", "two-headers"],
)
def test_stacked_encodings_are_refused(srv: FeedServer, headers: list[tuple[str, str]]) -> None:
    srv.route("/a.xml", gz(gz(FEED)), headers=headers)
    error = failure(srv.url("/a.xml"))
    assert error.category == "too_large"
    assert "stacked content encodings refused" in error.message


@pytest.mark.parametrize(
    ("coding", "payload"),
    [
        ("gzip", b"this is not gzip at all"),
        ("gzip", gz(FEED)[:10] + b"\x00garbage\xff" * 10),
        ("gzip", gz(FEED)[:-12]),
        ("deflate", b"\xff\xfe\xfd\xfc not deflate"),
    ],
    ids=["not-gzip", "corrupt-gzip", "truncated-gzip", "corrupt-deflate"],
)
def test_corrupt_compressed_bodies_are_connect_errors(srv: FeedServer, coding: str, payload: bytes) -> None:
    srv.route("/a.xml", payload, headers={"Content-Encoding": coding})
    error = failure(srv.url("/a.xml"))
    assert error.category == "connect"
    assert f"corrupt {coding} body" in error.message


def test_unsupported_encoding_is_refused(srv: FeedServer) -> None:
    srv.route("/a.xml", b"\x8b\x00\x80", headers={"Content-Encoding": "br"})
    error = failure(srv.url("/a.xml"))
    assert error.category == "connect"
    assert "br" in error.message


# --------------------------------------------------------------------------- size bounds


def test_body_of_exactly_max_bytes_is_accepted(srv: FeedServer) -> None:
    srv.route("/a.xml", b"a" * MIB)
    assert len(fetched(srv.url("/a.xml")).body) == MIB


def test_body_one_byte_over_max_bytes_is_too_large(srv: FeedServer) -> None:
    srv.route("/a.xml", b"a" * (MIB + 1))
    assert failure(srv.url("/a.xml")).category == "too_large"


def test_content_length_above_cap_is_refused_before_the_body(srv: FeedServer) -> None:
    srv.raw("/a.xml", short_body(b"", declared=10 * 1024 * MIB, stall_for=30))
    error, elapsed = timed_failure(srv.url("/a.xml"))
    assert error.category == "too_large"
    assert "Content-Length" in error.message
    assert elapsed < TIGHT.total_timeout


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "until-close"])
def test_endless_body_is_too_large(srv: FeedServer, chunked: bool) -> None:
    srv.raw("/a.xml", endless_body(chunked=chunked))
    assert failure(srv.url("/a.xml")).category == "too_large"


def test_endless_gzip_stream_is_too_large(srv: FeedServer) -> None:
    srv.raw("/a.xml", endless_body(gz(bytes(MIB)), headers={"Content-Encoding": "gzip"}))
    assert failure(srv.url("/a.xml")).category == "too_large"


def test_body_shorter_than_content_length_is_a_connect_error(srv: FeedServer) -> None:
    srv.raw("/a.xml", short_body(FEED[:20], declared=len(FEED)))
    assert failure(srv.url("/a.xml")).category == "connect"
