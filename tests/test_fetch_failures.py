"""fetch.failures: statuses become categorized FetchErrors; Retry-After is read against the now passed in."""

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest

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
