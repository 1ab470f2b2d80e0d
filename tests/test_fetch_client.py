"""fetch.client against a real local server: requests, conditional GET, deadlines, redirects, TLS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from feedserver import (
    Blackhole,
    FeedServer,
    Response,
    drip,
    self_signed_cert,
    short_body,
    slow_headers,
    stall,
    tls_available,
    tls_context,
)
from fetching import (
    FEED,
    LIMITS,
    TIGHT,
    failure,
    fetched,
    not_modified,
    timed_failure,
)

from aggregator.errors import FetchError
from aggregator.fetch import (
    Fetched,
    Fetcher,
    FetchLimits,
    NotModified,
    Validators,
)

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
