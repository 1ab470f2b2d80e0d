"""aggregator.fetch against a real local server: protocol, bounds, decoding, redirects, SSRF, errors."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import socket
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from feedserver import (
    Blackhole,
    Conn,
    FeedServer,
    Raw,
    Response,
    drip,
    endless_body,
    reset,
    self_signed_cert,
    send_raw,
    short_body,
    slow_headers,
    stall,
    tls_available,
    tls_context,
)
from yarl import URL

from aggregator.errors import FetchError
from aggregator.fetch import (
    AddressPolicy,
    Fetched,
    Fetcher,
    FetchLimits,
    GuardedResolver,
    HostBlockedError,
    HostUnresolvableError,
    NotModified,
    Validators,
    check_target,
    is_blocked_address,
    literal_address,
    parse_retry_after,
)

MIB = 1024 * 1024
LIMITS = FetchLimits(connect_timeout=2.0, total_timeout=5.0, max_bytes=MIB, allow_private=True)
TIGHT = replace(LIMITS, total_timeout=1.0)
GUARDED = replace(LIMITS, allow_private=False)
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
NO_VALIDATORS = Validators()


def run_fetch(
    url: str,
    limits: FetchLimits = LIMITS,
    validators: Validators = NO_VALIDATORS,
    *,
    allow_private: bool | None = None,
    policy: AddressPolicy | None = None,
) -> Fetched | NotModified:
    async def go() -> Fetched | NotModified:
        async with Fetcher(limits, address_policy=policy) as fetcher:
            return await fetcher.fetch(url, validators, allow_private=allow_private)

    return asyncio.run(go())


def fetched(url: str, limits: FetchLimits = LIMITS, validators: Validators = NO_VALIDATORS) -> Fetched:
    result = run_fetch(url, limits, validators)
    assert isinstance(result, Fetched)
    return result


def not_modified(url: str, validators: Validators = NO_VALIDATORS) -> NotModified:
    result = run_fetch(url, LIMITS, validators)
    assert isinstance(result, NotModified)
    return result


def failure(
    url: str,
    limits: FetchLimits = LIMITS,
    *,
    allow_private: bool | None = None,
    policy: AddressPolicy | None = None,
) -> FetchError:
    with pytest.raises(FetchError) as info:
        run_fetch(url, limits, allow_private=allow_private, policy=policy)
    return info.value


def timed_failure(url: str, limits: FetchLimits = TIGHT) -> tuple[FetchError, float]:
    started = time.monotonic()
    error = failure(url, limits)
    return error, time.monotonic() - started


@pytest.fixture
def srv() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server
    assert server.errors == []


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def gzip_bomb_members(total: int, member: int = MIB) -> bytes:
    one = gz(bytes(member))
    return one * (total // member)


def compress_zeros(size: int, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(MIB)
    parts = [packer.compress(block) for _ in range(size // MIB)]
    return b"".join([*parts, packer.flush()])


# --------------------------------------------------------------------------- plain fetches


def test_fetch_returns_body_status_and_lowercased_headers(srv: FeedServer) -> None:
    srv.route(
        "/a.xml",
        FEED,
        headers=[
            ("ETag", '"v1"'),
            ("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"),
            ("X-Dup", "a"),
            ("X-Dup", "b"),
        ],
        content_type="application/rss+xml",
    )
    result = fetched(srv.url("/a.xml"))
    assert result.body == FEED
    assert result.status == 200
    assert result.url == result.final_url == srv.url("/a.xml")
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.headers["x-dup"] == "a, b"
    assert result.permanent_redirect is None
    assert result.elapsed > 0


def test_request_headers_ask_for_feeds_and_our_encodings(srv: FeedServer) -> None:
    srv.route("/a.xml", FEED)
    limits = replace(LIMITS, user_agent="test-agent/9")
    fetched(srv.url("/a.xml"), limits)
    request = srv.last("/a.xml")
    assert request.method == "GET"
    assert request.header("user-agent") == "test-agent/9"
    assert request.header("accept-encoding") == "gzip, deflate"
    accept = request.header("accept") or ""
    for media in ("application/atom+xml", "application/rss+xml", "application/feed+json", "*/*;q=0.1"):
        assert media in accept
    assert accept.index("application/atom+xml") < accept.index("*/*")
    assert request.header("if-none-match") is None
    assert request.header("if-modified-since") is None
    assert request.header("cookie") is None


def test_concurrent_fetches_share_one_fetcher(srv: FeedServer) -> None:
    for n in range(8):
        srv.route(f"/{n}.xml", FEED + str(n).encode())

    async def go() -> list[Fetched | NotModified]:
        async with Fetcher(LIMITS, per_host=2) as fetcher:
            return await asyncio.gather(*(fetcher.fetch(srv.url(f"/{n}.xml")) for n in range(8)))

    results = asyncio.run(go())
    assert [r.body for r in results if isinstance(r, Fetched)] == [FEED + str(n).encode() for n in range(8)]


def test_closed_fetcher_raises_fetch_error(srv: FeedServer) -> None:
    async def go() -> None:
        fetcher = Fetcher(LIMITS)
        await fetcher.aclose()
        await fetcher.fetch(srv.url("/"))

    with pytest.raises(FetchError):
        asyncio.run(go())


# --------------------------------------------------------------------------- conditional GET

LAST_MODIFIED = "Tue, 02 Jan 2024 03:04:05 GMT"


def test_conditional_get_sends_validators_verbatim_and_maps_304(srv: FeedServer) -> None:
    srv.conditional("/feed.xml", FEED, etag='W/"abc-1"', last_modified=LAST_MODIFIED)
    first = fetched(srv.url("/feed.xml"))
    assert (first.etag, first.last_modified) == ('W/"abc-1"', LAST_MODIFIED)

    second = not_modified(srv.url("/feed.xml"), Validators(first.etag, first.last_modified))
    request = srv.last("/feed.xml")
    assert request.header("if-none-match") == 'W/"abc-1"'
    assert request.header("if-modified-since") == LAST_MODIFIED
    assert second.etag == 'W/"abc-1"'
    assert second.last_modified == LAST_MODIFIED
    assert second.final_url == srv.url("/feed.xml")
    assert second.permanent_redirect is None


def test_only_last_modified_is_sent_when_no_etag(srv: FeedServer) -> None:
    srv.conditional("/feed.xml", FEED, last_modified=LAST_MODIFIED)
    result = not_modified(srv.url("/feed.xml"), Validators(last_modified=LAST_MODIFIED))
    assert srv.last("/feed.xml").header("if-none-match") is None
    assert result.last_modified == LAST_MODIFIED
    assert result.etag is None


def test_304_with_new_validators_reports_them(srv: FeedServer) -> None:
    srv.route("/feed.xml", status=304, headers={"ETag": '"new"', "Last-Modified": LAST_MODIFIED})
    result = not_modified(srv.url("/feed.xml"), Validators('"old"', "Mon, 01 Jan 2024 00:00:00 GMT"))
    assert (result.etag, result.last_modified) == ('"new"', LAST_MODIFIED)


def test_304_without_validators_keeps_the_ones_we_sent(srv: FeedServer) -> None:
    srv.route("/feed.xml", status=304)
    result = not_modified(srv.url("/feed.xml"), Validators('"ours"', LAST_MODIFIED))
    assert (result.etag, result.last_modified) == ('"ours"', LAST_MODIFIED)


def test_unsolicited_304_is_not_modified_with_no_validators(srv: FeedServer) -> None:
    srv.route("/feed.xml", status=304)
    result = not_modified(srv.url("/feed.xml"))
    assert (result.etag, result.last_modified) == (None, None)
    assert srv.last("/feed.xml").header("if-none-match") is None


def test_validators_with_line_breaks_are_not_sent(srv: FeedServer) -> None:
    srv.route("/feed.xml", FEED)
    fetched(srv.url("/feed.xml"), validators=Validators('"a"\r\nX-Injected: 1', "x\nY: 2"))
    request = srv.last("/feed.xml")
    assert request.header("x-injected") is None
    assert request.header("if-none-match") is None
    assert request.header("if-modified-since") is None


def test_validators_follow_redirects(srv: FeedServer) -> None:
    srv.redirect("/old.xml", "/feed.xml", status=301)
    srv.conditional("/feed.xml", FEED, etag='"e"')
    result = not_modified(srv.url("/old.xml"), Validators('"e"'))
    assert result.permanent_redirect == srv.url("/feed.xml")
    assert result.final_url == srv.url("/feed.xml")
    assert srv.last("/feed.xml").header("if-none-match") == '"e"'


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


# --------------------------------------------------------------------------- deadlines


def _assert_cut_at_deadline(error: FetchError, elapsed: float, limits: FetchLimits = TIGHT) -> None:
    assert error.category == "timeout"
    assert elapsed < limits.total_timeout * 3


def test_dripping_body_is_cut_at_the_deadline(srv: FeedServer) -> None:
    srv.raw("/a.xml", drip(FEED, interval=0.5))
    error, elapsed = timed_failure(srv.url("/a.xml"))
    _assert_cut_at_deadline(error, elapsed)
    assert "deadline" in error.message


def test_slow_headers_are_cut_at_the_deadline(srv: FeedServer) -> None:
    srv.raw("/a.xml", slow_headers(interval=0.2))
    _assert_cut_at_deadline(*timed_failure(srv.url("/a.xml")))


def test_server_stalling_before_headers_is_cut_at_the_deadline(srv: FeedServer) -> None:
    srv.raw("/a.xml", stall(30))
    _assert_cut_at_deadline(*timed_failure(srv.url("/a.xml")))
    assert srv.count("/a.xml") == 1


def test_body_stalling_midway_is_cut_at_the_deadline(srv: FeedServer) -> None:
    srv.raw("/a.xml", short_body(FEED[:10], declared=len(FEED), stall_for=30))
    _assert_cut_at_deadline(*timed_failure(srv.url("/a.xml")))


def test_deadline_covers_the_whole_redirect_chain(srv: FeedServer) -> None:
    for n in range(4):
        srv.reply(f"/{n}", Response(302, headers={"Location": f"/{n + 1}"}, delay=0.4))
    srv.route("/4", FEED)
    _assert_cut_at_deadline(*timed_failure(srv.url("/0")))
    assert srv.count("/4") == 0


def test_connect_timeout_applies_to_unanswered_handshakes() -> None:
    limits = replace(LIMITS, connect_timeout=0.3, total_timeout=5.0)
    with Blackhole() as hole:
        error, elapsed = timed_failure(hole.url("/a.xml"), limits)
    assert error.category == "timeout"
    assert "connect" in error.message.lower()
    assert elapsed < limits.total_timeout


# --------------------------------------------------------------------------- redirects


def test_relative_locations_resolve_against_the_current_url(srv: FeedServer) -> None:
    srv.redirect("/a/b/start.xml", "../c/next.xml")
    srv.redirect("/a/c/next.xml", "final.xml?x=1")
    srv.redirect("/a/c/final.xml", f"//127.0.0.1:{srv.port}/done.xml")
    srv.route("/done.xml", FEED)
    result = fetched(srv.url("/a/b/start.xml"))
    assert result.final_url == srv.url("/done.xml")
    assert result.url == srv.url("/a/b/start.xml")
    assert srv.last("/a/c/final.xml").query == "x=1"


@pytest.mark.parametrize(
    ("statuses", "permanent"),
    [
        ([301], True),
        ([308], True),
        ([301, 308, 301], True),
        ([301, 302], False),
        ([307], False),
        ([303], False),
    ],
)
def test_permanent_redirect_only_when_every_hop_is_permanent(
    srv: FeedServer, statuses: list[int], permanent: bool
) -> None:
    for n, status in enumerate(statuses):
        srv.redirect(f"/{n}", f"/{n + 1}", status=status)
    srv.route(f"/{len(statuses)}", FEED)
    result = fetched(srv.url("/0"))
    assert result.final_url == srv.url(f"/{len(statuses)}")
    assert result.permanent_redirect == (result.final_url if permanent else None)


def test_max_redirects_hops_are_followed(srv: FeedServer) -> None:
    limits = replace(LIMITS, max_redirects=3)
    for n in range(3):
        srv.redirect(f"/{n}", f"/{n + 1}")
    srv.route("/3", FEED)
    assert fetched(srv.url("/0"), limits).body == FEED


def test_one_hop_more_than_max_redirects_fails(srv: FeedServer) -> None:
    limits = replace(LIMITS, max_redirects=3)
    for n in range(4):
        srv.redirect(f"/{n}", f"/{n + 1}")
    srv.route("/4", FEED)
    error = failure(srv.url("/0"), limits)
    assert error.category == "redirect"
    assert srv.count("/4") == 0


@pytest.mark.parametrize("loop", [["/a"], ["/a", "/b"], ["/a", "/b", "/c"]], ids=["self", "two", "three"])
def test_redirect_loops_are_detected(srv: FeedServer, loop: list[str]) -> None:
    for here, there in zip(loop, [*loop[1:], loop[0]], strict=True):
        srv.redirect(here, there)
    error = failure(srv.url("/a"), replace(LIMITS, max_redirects=20))
    assert error.category == "redirect"
    assert "loop" in error.message
    assert srv.count("/a") == 1


def test_redirect_without_location_fails(srv: FeedServer) -> None:
    srv.route("/a", status=302)
    assert failure(srv.url("/a")).category == "redirect"


NON_HTTP = [
    "file:///etc/passwd",
    "ftp://127.0.0.1/feed.xml",
    "javascript:alert(1)",
    "gopher://127.0.0.1:70/_feed",
    "data:text/xml,<rss/>",
]


@pytest.mark.parametrize("location", NON_HTTP)
def test_redirect_to_non_http_scheme_is_blocked(srv: FeedServer, location: str) -> None:
    srv.redirect("/a", location)
    assert failure(srv.url("/a")).category == "blocked"


@pytest.mark.parametrize("url", [*NON_HTTP, "not a url", "/relative/feed.xml", "http://"])
def test_initial_url_must_be_absolute_http(url: str) -> None:
    assert failure(url).category == "blocked"


def test_redirect_may_change_host_and_port(srv: FeedServer) -> None:
    with FeedServer() as other:
        other.route("/feed.xml", FEED)
        srv.redirect("/a", other.url("/feed.xml"), status=308)
        result = fetched(srv.url("/a"))
    assert result.body == FEED
    assert result.permanent_redirect == other.url("/feed.xml")


# --------------------------------------------------------------------------- SSRF guard

LEGACY_LOOPBACK = ["127.0.0.1", "2130706433", "0x7f000001", "127.1", "0177.0.0.1", "0x7f.0.0.1", "127.0.0.1."]


@pytest.mark.parametrize("host", LEGACY_LOOPBACK)
def test_guard_blocks_every_spelling_of_loopback(srv: FeedServer, host: str) -> None:
    srv.route("/a.xml", FEED)
    error = failure(f"http://{host}:{srv.port}/a.xml", GUARDED)
    assert error.category == "blocked"
    assert srv.count() == 0
    assert srv.connections_accepted == 0


@pytest.mark.parametrize("host", ["[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "0.0.0.0", "[::]"])
def test_guard_blocks_ipv6_and_unspecified_literals(srv: FeedServer, host: str) -> None:
    srv.route("/a.xml", FEED)
    assert failure(f"http://{host}:{srv.port}/a.xml", GUARDED).category == "blocked"
    assert srv.count() == 0


def test_guard_checks_resolved_addresses(srv: FeedServer) -> None:
    srv.route("/a.xml", FEED)
    error = failure(f"http://localhost:{srv.port}/a.xml", GUARDED)
    assert error.category == "blocked"
    assert "resolves only to blocked addresses" in error.message
    assert srv.connections_accepted == 0


def test_guard_is_on_by_default(srv: FeedServer) -> None:
    srv.route("/a.xml", FEED)
    with pytest.raises(FetchError) as info:
        asyncio.run(_default_fetch(srv.url("/a.xml")))
    assert info.value.category == "blocked"
    assert srv.count() == 0


async def _default_fetch(url: str) -> Fetched | NotModified:
    async with Fetcher() as fetcher:
        return await fetcher.fetch(url)


def test_per_call_override_turns_the_guard_off_and_on(srv: FeedServer) -> None:
    srv.route("/a.xml", FEED)
    result = run_fetch(srv.url("/a.xml"), GUARDED, allow_private=True)
    assert isinstance(result, Fetched)
    assert failure(srv.url("/a.xml"), LIMITS, allow_private=False).category == "blocked"
    assert srv.count() == 1


def test_both_policies_work_within_one_fetcher(srv: FeedServer) -> None:
    srv.route("/a.xml", FEED)

    async def go() -> tuple[object, object]:
        async with Fetcher(GUARDED) as fetcher:
            allowed = await fetcher.fetch(srv.url("/a.xml"), allow_private=True)
            try:
                await fetcher.fetch(srv.url("/a.xml"))
            except FetchError as exc:
                return allowed, exc.category
            return allowed, None

    allowed, category = asyncio.run(go())
    assert isinstance(allowed, Fetched)
    assert category == "blocked"
    assert srv.count() == 1


ONLY_127_0_0_1 = AddressPolicy(allow_private=False, extra_allowed=frozenset({"127.0.0.1"}))


def test_policy_allowing_one_address_reaches_it(srv: FeedServer) -> None:
    srv.redirect("/start", "/feed.xml")
    srv.route("/feed.xml", FEED)
    result = run_fetch(srv.url("/start"), GUARDED, policy=ONLY_127_0_0_1)
    assert isinstance(result, Fetched)


def _other_server(host: str) -> FeedServer:
    try:
        return FeedServer(host=host).start()
    except OSError as exc:
        pytest.skip(f"cannot listen on {host}: {exc}")


@pytest.mark.parametrize(
    ("host", "location"),
    [
        ("127.0.0.2", "http://127.0.0.2:{port}/secret"),
        ("127.0.0.2", "http://2130706434:{port}/secret"),
        ("127.0.0.2", "http://0x7f000002:{port}/secret"),
        ("127.0.0.2", "http://127.2:{port}/secret"),
        ("::1", "http://[::1]:{port}/secret"),
        ("::1", "http://[::ffff:127.0.0.2]:{port}/secret"),
    ],
)
def test_redirect_hop_to_a_blocked_address_is_refused(srv: FeedServer, host: str, location: str) -> None:
    target = _other_server(host)
    try:
        target.route("/secret", b"secret")
        srv.redirect("/start", location.format(port=target.port))
        error = failure(srv.url("/start"), GUARDED, policy=ONLY_127_0_0_1)
        assert error.category == "blocked"
        assert srv.count("/start") == 1
        assert target.connections_accepted == 0
    finally:
        target.stop()


def test_redirect_hop_to_a_name_resolving_to_blocked_address_is_refused(srv: FeedServer) -> None:
    policy = AddressPolicy(allow_private=False, extra_allowed=frozenset({"127.0.0.2"}))
    with FeedServer(host="127.0.0.2") as start:
        start.redirect("/start", f"http://localhost:{srv.port}/secret")
        srv.route("/secret", b"secret")
        error = failure(start.url("/start"), GUARDED, policy=policy)
    assert error.category == "blocked"
    assert start.count("/start") == 1
    assert srv.connections_accepted == 0


BLOCKED = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.0.1",
    "100.64.0.1",
    "100.127.255.255",
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "198.18.0.1",
    "::",
    "::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::1",
    "2002:c0a8:101::1",
    "64:ff9b::7f00:1",
    "64:ff9b::a00:1",
    "2001:db8::1",
    "::127.0.0.1",
]
ALLOWED = [
    "8.8.8.8",
    "93.184.216.34",
    "1.1.1.1",
    "172.32.0.1",
    "100.128.0.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "2002:808:808::1",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize("address", BLOCKED)
def test_is_blocked_address_blocks(address: str) -> None:
    assert is_blocked_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_is_blocked_address_allows_public(address: str) -> None:
    assert not is_blocked_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7F.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("example.com", None),
        ("0x7g.0.0.1", None),
        ("1.2.3.4.5", None),
    ],
)
def test_literal_address_normalises_legacy_forms(host: str, expected: str | None) -> None:
    found = literal_address(host)
    assert (str(found) if found is not None else None) == expected


def test_check_target_refuses_schemes_hosts_and_literals() -> None:
    strict = AddressPolicy()
    for url in ["ftp://example.com/", "http://10.0.0.1/", "http://0x0a000001/", "https://[fd00::1]/"]:
        with pytest.raises(FetchError) as info:
            check_target(URL(url), strict)
        assert info.value.category == "blocked"
    check_target(URL("https://example.com/feed"), strict)
    check_target(URL("http://10.0.0.1/"), AddressPolicy(allow_private=True))


class _FakeResolver(AbstractResolver):
    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if not self.addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        return None


def _resolve(policy: AddressPolicy, inner: AbstractResolver | None, host: str) -> list[str]:
    async def go() -> list[str]:
        resolver = GuardedResolver(policy, inner if inner is not None else ThreadedResolver())
        return [r["host"] for r in await resolver.resolve(host, 80)]

    return asyncio.run(go())


def test_resolver_drops_blocked_addresses() -> None:
    inner = _FakeResolver(["10.0.0.1", "93.184.216.34", "::1", "2606:4700::1"])
    assert _resolve(AddressPolicy(), inner, "mixed.example") == ["93.184.216.34", "2606:4700::1"]
    assert len(_resolve(AddressPolicy(allow_private=True), inner, "mixed.example")) == 4


def test_resolver_refuses_names_with_only_blocked_addresses() -> None:
    with pytest.raises(HostBlockedError):
        _resolve(AddressPolicy(), _FakeResolver(["127.0.0.1", "169.254.169.254"]), "evil.example")


def test_resolver_reports_unresolvable_names() -> None:
    with pytest.raises(HostUnresolvableError):
        _resolve(AddressPolicy(), _FakeResolver([]), "nothing.example")


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1", "localhost"])
def test_resolver_path_catches_legacy_forms_that_reach_dns(host: str) -> None:
    with pytest.raises(HostBlockedError):
        _resolve(AddressPolicy(), None, host)


# --------------------------------------------------------------------------- TLS


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[FeedServer]:
    if not tls_available():
        pytest.skip("neither cryptography nor openssl is available")
    cert, key = self_signed_cert(tmp_path)
    with FeedServer(ssl_context=tls_context(cert, key)) as server:
        server.route("/a.xml", FEED)
        yield server


def test_self_signed_certificate_is_refused(tls_server: FeedServer) -> None:
    assert tls_server.url("/a.xml").startswith("https://")
    error = failure(tls_server.url("/a.xml"))
    assert error.category == "tls"
    assert tls_server.count() == 0
    deadline = time.monotonic() + 5
    while tls_server.handshake_failures == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert tls_server.handshake_failures >= 1


def test_https_to_a_plain_http_server_is_a_tls_error(srv: FeedServer) -> None:
    srv.route("/a.xml", FEED)
    assert failure(srv.url("/a.xml").replace("http://", "https://")).category == "tls"


# --------------------------------------------------------------------------- transport errors


def test_unknown_name_is_a_dns_error() -> None:
    error = failure("http://feed.does-not-exist.invalid/rss.xml")
    assert error.category == "dns"


def test_refused_port_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert failure(f"http://127.0.0.1:{port}/a.xml").category == "connect"


@pytest.mark.parametrize(
    "fault",
    [
        reset(),
        reset(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n<rss>"),
        reset(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n<rss>"),
        send_raw(b""),
        send_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"),
        send_raw(b"garbage\r\n\r\n"),
        send_raw(b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n"),
        send_raw(b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n"),
        send_raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        send_raw(b"\x16\x03\x01\x00\x05hello"),
    ],
    ids=[
        "reset-before-response",
        "reset-mid-body",
        "reset-mid-chunk",
        "close-without-response",
        "close-mid-head",
        "bad-status-line",
        "non-numeric-status",
        "bad-content-length",
        "bad-chunk-size",
        "binary-garbage",
    ],
)
def test_broken_responses_are_connect_errors(srv: FeedServer, fault: Raw) -> None:
    srv.raw("/a.xml", fault)
    error = failure(srv.url("/a.xml"))
    assert error.category == "connect"
    assert error.status is None


# --------------------------------------------------------------------------- HTTP status errors


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (400, "http_4xx"),
        (401, "http_4xx"),
        (403, "http_4xx"),
        (404, "http_4xx"),
        (410, "http_4xx"),
        (451, "http_4xx"),
        (500, "http_5xx"),
        (502, "http_5xx"),
        (504, "http_5xx"),
        (300, "redirect"),
    ],
)
def test_error_statuses_map_to_categories(srv: FeedServer, status: int, category: str) -> None:
    srv.route("/a.xml", b"nope", status=status)
    error = failure(srv.url("/a.xml"))
    assert (error.category, error.status, error.retry_after) == (category, status, None)


def test_error_after_redirect_reports_the_final_status(srv: FeedServer) -> None:
    srv.redirect("/a.xml", "/gone.xml", status=301)
    srv.route("/gone.xml", status=410)
    error = failure(srv.url("/a.xml"))
    assert (error.category, error.status) == ("http_4xx", 410)


def _retry_after_of(srv: FeedServer, status: int, value: str) -> float | None:
    srv.route("/a.xml", status=status, headers={"Retry-After": value})
    error = failure(srv.url("/a.xml"), replace(LIMITS, max_retry_after=3600))
    assert error.status == status
    return error.retry_after


def test_429_retry_after_seconds(srv: FeedServer) -> None:
    assert _retry_after_of(srv, 429, "120") == 120


def test_503_retry_after_http_date(srv: FeedServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=600), usegmt=True)
    retry = _retry_after_of(srv, 503, when)
    assert retry is not None
    assert 500 < retry <= 600


def test_503_garbage_retry_after_is_none(srv: FeedServer) -> None:
    assert _retry_after_of(srv, 503, "soon, maybe") is None


def test_429_huge_retry_after_is_capped(srv: FeedServer) -> None:
    assert _retry_after_of(srv, 429, "999999999999999999999") == 3600


def test_503_is_a_5xx_with_retry_after(srv: FeedServer) -> None:
    srv.route("/a.xml", status=503, headers={"Retry-After": "30"})
    error = failure(srv.url("/a.xml"))
    assert (error.category, error.status, error.retry_after) == ("http_5xx", 503, 30)


NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("soon", None),
        ("1e3", None),
        ("12abc", None),
        ("nan", None),
        ("inf", None),
        ("0", 0.0),
        ("60", 60.0),
        (" 7 ", 7.0),
        ("-5", 0.0),
        ("99999999999999999999999", 100.0),
        ("Tue, 02 Jan 2024 03:05:05 GMT", 60.0),
        ("Tue, 02 Jan 2024 03:00:00 GMT", 0.0),
        ("Wed, 03 Jan 2024 03:04:05 GMT", 100.0),
        ("Tuesday, 02-Jan-24 03:05:05 GMT", 60.0),
        ("Tue Jan  2 03:05:05 2024", 60.0),
        ("Tue, 32 Jan 2024 03:05:05 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW, cap=100.0) == expected


def test_parse_retry_after_accepts_naive_now() -> None:
    assert parse_retry_after("Tue, 02 Jan 2024 03:05:05 GMT", NOW.replace(tzinfo=None), 1000) == 60.0
