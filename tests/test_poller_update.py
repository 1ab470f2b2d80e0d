"""``poller.update``: what a poll records about a source, decided with no database, network or clock."""

from __future__ import annotations

import hashlib
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aggregator.errors import CATEGORIES, FetchError, ParseError, SourceError
from aggregator.fetch import Fetched, NotModified
from aggregator.parse.model import Damage, ParsedFeed
from aggregator.poller.update import Written, is_same_body, update_after_error, update_after_fetch
from aggregator.schedule import Cadence
from aggregator.store.sources import KEEP, MAX_ERROR, REDIRECTS_TO_MOVE, SourceState

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
INTERVAL = 1800
CADENCE = Cadence(interval=INTERVAL, min_interval=300, max_interval=86400)
URL = "https://blog.example/feed.xml"
MOVED = "https://new.example/feed.xml"
BODY = b"<rss version='2.0'><channel><title>t</title></channel></rss>"
BODY_HASH = hashlib.sha256(BODY).hexdigest()

STATE = SourceState(
    id=7,
    url=URL,
    kind="feed",
    label="blog",
    tags=(),
    interval=INTERVAL,
    allow_private=None,
    etag='"old"',
    last_modified=None,
    body_hash="0" * 64,
    consecutive_errors=0,
    redirect_url=None,
    redirect_count=0,
    next_poll_at=None,
)


def fetched(
    body: bytes = BODY, *, headers: dict[str, str] | None = None, redirect: str | None = None
) -> Fetched:
    return Fetched(
        URL, URL, 200, headers or {}, body, '"new"', "Sun, 01 Mar 2026 11:00:00 GMT", redirect, 0.1
    )


def not_modified(*, headers: dict[str, str] | None = None, redirect: str | None = None) -> NotModified:
    return NotModified(URL, URL, headers or {}, '"old"', None, redirect, 0.1)


def feed(*, ttl: int | None = None, damage: tuple[Damage, ...] = ()) -> ParsedFeed:
    return ParsedFeed(
        format="rss20",
        title="The Blog",
        link="https://blog.example/",
        ttl_minutes=ttl,
        is_hatena=False,
        entries=(),
        total_entries=1 if damage else 0,
        warnings=(),
        encoding="utf-8",
        language="ja",
        damage=damage,
    )


SUCCESS = {
    "last_polled_at": NOW,
    "last_success_at": NOW,
    "consecutive_errors": 0,
    "last_error": None,
    "error_category": None,
    "next_poll_at": NOW + timedelta(seconds=INTERVAL),
    "gone": False,
}
PARSED = {"feed_title": "The Blog", "feed_link": "https://blog.example/", "feed_language": "ja"}
VALIDATORS = {"etag": '"new"', "last_modified": "Sun, 01 Mar 2026 11:00:00 GMT", "last_http_status": 200}
DAMAGE = Damage("truncated", "document truncated at line 3")


def written(summary: str | None = None, *, new: int = 0, updated: int = 0, ttl: int | None = None) -> Written:
    damage = (DAMAGE,) if summary else ()
    return Written(feed(ttl=ttl, damage=damage), new, updated)


@pytest.mark.parametrize(
    ("result", "parsed", "expected"),
    [
        pytest.param(
            not_modified(),
            None,
            {
                **SUCCESS,
                "last_status": "not_modified",
                "last_http_status": 304,
                "etag": '"old"',
                "last_modified": None,
            },
            id="not modified: validators, no body hash, warning kept",
        ),
        pytest.param(
            fetched(),
            None,
            {**SUCCESS, **VALIDATORS, "last_status": "unchanged", "body_hash": BODY_HASH},
            id="unchanged body: not parsed, warning and feed details kept",
        ),
        pytest.param(
            fetched(),
            written(new=2, updated=1),
            {
                **SUCCESS,
                **VALIDATORS,
                **PARSED,
                "last_status": "new",
                "body_hash": BODY_HASH,
                "last_warning": None,
            },
            id="new items: feed details stored, a clean parse clears the warning",
        ),
        pytest.param(
            fetched(),
            written(updated=3),
            {
                **SUCCESS,
                **VALIDATORS,
                **PARSED,
                "last_status": "updated",
                "body_hash": BODY_HASH,
                "last_warning": None,
            },
            id="updated items only",
        ),
        pytest.param(
            fetched(),
            written(),
            {
                **SUCCESS,
                **VALIDATORS,
                **PARSED,
                "last_status": "unchanged",
                "body_hash": BODY_HASH,
                "last_warning": None,
            },
            id="new body, nothing new in it",
        ),
        pytest.param(
            fetched(),
            written("damaged", new=1),
            {
                **SUCCESS,
                **VALIDATORS,
                **PARSED,
                "last_status": "new",
                "body_hash": BODY_HASH,
                "last_warning": f"{DAMAGE.detail}; kept 0 of 1 entry",
            },
            id="damaged body: its summary is the warning",
        ),
        pytest.param(
            fetched(),
            written(new=1, ttl=120),
            {
                **SUCCESS,
                **VALIDATORS,
                **PARSED,
                "last_status": "new",
                "body_hash": BODY_HASH,
                "last_warning": None,
                "next_poll_at": NOW + timedelta(minutes=120),
            },
            id="ttl pushes the next poll later",
        ),
        pytest.param(
            fetched(headers={"cache-control": "max-age=7200"}),
            None,
            {
                **SUCCESS,
                **VALIDATORS,
                "last_status": "unchanged",
                "body_hash": BODY_HASH,
                "next_poll_at": NOW + timedelta(seconds=7200),
            },
            id="max-age pushes the next poll later",
        ),
    ],
)
def test_update_after_fetch(
    result: Fetched | NotModified, parsed: Written | None, expected: dict[str, Any]
) -> None:
    assert update_after_fetch(STATE, result, NOW, CADENCE, parsed).values() == expected


def test_an_update_writes_no_column_it_was_not_told_to() -> None:
    update = update_after_fetch(STATE, not_modified(), NOW, CADENCE)
    assert {f.name for f in fields(update) if getattr(update, f.name) is KEEP} == {
        "last_error_at",
        "body_hash",
        "feed_title",
        "feed_link",
        "feed_language",
        "last_warning",
        "redirect_url",
        "redirect_count",
    }


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_error_category_is_recorded_with_the_back_off(category: str) -> None:
    state = replace(STATE, consecutive_errors=2)
    update = update_after_error(state, SourceError(f"{category} failed", category=category), NOW, CADENCE)
    assert update.values() == {
        "last_polled_at": NOW,
        "last_status": "error",
        "last_http_status": None,
        "next_poll_at": NOW + timedelta(seconds=INTERVAL * 2**2),  # the third error in a row
        "consecutive_errors": 3,
        "last_error": f"{category} failed",
        "error_category": category,
        "last_error_at": NOW,
        "gone": False,
    }


@pytest.mark.parametrize(
    ("error", "http_status", "expected"),
    [
        pytest.param(
            FetchError("HTTP 410", category="http_4xx", status=410),
            None,
            {"last_status": "gone", "last_http_status": 410, "gone": True, "next_poll_at": None},
            id="410 from the fetch: gone, never polled again",
        ),
        pytest.param(
            ParseError("not a feed: an HTML page", category="not_a_feed"),
            410,
            {"last_status": "gone", "last_http_status": 410, "gone": True, "next_poll_at": None},
            id="410 with a body that did not parse",
        ),
        pytest.param(
            FetchError("HTTP 404", category="http_4xx", status=404),
            None,
            {
                "last_status": "error",
                "last_http_status": 404,
                "gone": False,
                "next_poll_at": NOW + timedelta(seconds=INTERVAL),
            },
            id="404: an error, polled again",
        ),
        pytest.param(
            FetchError("HTTP 503", category="http_5xx", status=503, retry_after=20000),
            None,
            {
                "last_status": "error",
                "last_http_status": 503,
                "gone": False,
                "next_poll_at": NOW + timedelta(seconds=20000),
            },
            id="Retry-After beyond the back-off",
        ),
        pytest.param(
            SourceError("storage error: disk I/O error", category="storage"),
            200,
            {
                "last_status": "error",
                "last_http_status": 200,
                "gone": False,
                "next_poll_at": NOW + timedelta(seconds=INTERVAL),
            },
            id="a body that could not be stored keeps its HTTP status",
        ),
    ],
)
def test_error_status_gone_and_retry_after(
    error: SourceError, http_status: int | None, expected: dict[str, Any]
) -> None:
    update = update_after_error(STATE, error, NOW, CADENCE, http_status)
    assert {k: v for k, v in update.values().items() if k in expected} == expected
    assert (update.last_error, update.error_category) == (error.message, error.category)


@pytest.mark.parametrize(
    ("redirect_url", "redirect_count", "seen", "expected"),
    [
        pytest.param(None, 0, MOVED, (MOVED, 1), id="first permanent redirect: counted"),
        pytest.param(MOVED, 1, MOVED, (MOVED, 2), id="the same target again: counted on"),
        pytest.param(MOVED, REDIRECTS_TO_MOVE - 1, MOVED, (MOVED, REDIRECTS_TO_MOVE), id="moves for good"),
        pytest.param("https://other.example/", 2, MOVED, (MOVED, 1), id="another target: counted afresh"),
        pytest.param(MOVED, 2, None, (None, 0), id="not seen again in a row: forgotten"),
        pytest.param(MOVED, REDIRECTS_TO_MOVE, None, (KEEP, KEEP), id="moved: nothing to count"),
        pytest.param(MOVED, REDIRECTS_TO_MOVE, MOVED, (KEEP, KEEP), id="moved: the target is the fetch URL"),
        pytest.param(None, 0, None, (KEEP, KEEP), id="no redirect"),
    ],
)
def test_permanent_redirects_are_counted_before_they_are_followed(
    redirect_url: str | None, redirect_count: int, seen: str | None, expected: tuple[Any, Any]
) -> None:
    state = replace(STATE, redirect_url=redirect_url, redirect_count=redirect_count)
    for result in (not_modified(redirect=seen), fetched(redirect=seen)):
        update = update_after_fetch(state, result, NOW, CADENCE)
        assert (update.redirect_url, update.redirect_count) == expected


@pytest.mark.parametrize(("body_hash", "same"), [(BODY_HASH, True), ("0" * 64, False), (None, False)])
def test_is_same_body(body_hash: str | None, same: bool) -> None:
    assert is_same_body(replace(STATE, body_hash=body_hash), fetched()) is same


def test_long_error_and_warning_texts_are_cut_when_written() -> None:
    long = "x" * 2000
    update = update_after_error(STATE, SourceError(long, category="parse"), NOW, CADENCE)
    assert update.values()["last_error"] == long[:MAX_ERROR]
    assert replace(update, last_warning=long).values()["last_warning"] == long[:MAX_ERROR]
