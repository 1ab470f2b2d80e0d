"""fetch.failures: statuses become categorized FetchErrors; Retry-After is read against the now passed in."""

import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest
from feedserver import (
    FeedServer,
    Raw,
    reset,
    send_raw,
)
from fetching import LIMITS, failure

from aggregator.clock import utcnow
from aggregator.fetch.failures import status_error

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def response(status: int, retry_after: str | None = None) -> aiohttp.ClientResponse:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    fake: Any = SimpleNamespace(status=status, reason="Reason", url="https://a.example/", headers=headers)
    return cast(aiohttp.ClientResponse, fake)


@pytest.mark.parametrize(
    ("status", "retry_after", "category", "seconds"),
    [
        (503, "Wed, 01 May 2024 12:10:00 GMT", "http_5xx", 600.0),  # an HTTP-date, ten minutes after NOW
        (429, "120", "http_4xx", 120.0),
        (404, None, "http_4xx", None),
        (302, None, "redirect", None),
        (503, "Wed, 01 May 2024 11:00:00 GMT", "http_5xx", 0.0),  # in the past of NOW
    ],
)
def test_status_error_reads_retry_after_against_now(
    status: int, retry_after: str | None, category: str, seconds: float | None
) -> None:
    error = status_error(response(status, retry_after), 86400.0, NOW)
    assert (error.category, error.status, error.retry_after) == (category, status, seconds)
    assert f"HTTP {status}" in str(error)


def test_utcnow_is_aware_utc() -> None:
    assert utcnow().tzinfo is UTC


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
