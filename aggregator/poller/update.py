"""Pure: what a poll records about a source, as one ``SourceUpdate``.

From the source's state, what the fetch returned (``NotModified``, a body, or the
``SourceError`` it failed with), the clock's ``now`` and the source's cadence:
its status, validators, body hash, the feed's own title, link and language, the
warning of a damaged body (cleared by a clean parse, kept across 304s and
unchanged bodies), the error and its back-off, ``gone`` on a 410, and permanent
redirects counted before they are followed. No I/O, no clock, no logging.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

from ..errors import SourceError
from ..fetch import Fetched, NotModified
from ..parse import ParsedFeed
from ..schedule import Cadence, next_after_error, next_after_success, parse_max_age
from ..store.sources import KEEP, REDIRECTS_TO_MOVE, Keep, SourceState, SourceUpdate
from ..views import PollStatus

GONE = 410


@dataclass(frozen=True)
class FeedHead:
    """What a poll records of a parsed feed besides its entries (sent back by a parser process
    instead of the whole ``ParsedFeed``, whose entries already travel as ``Incoming``)."""

    title: str | None
    link: str | None
    language: str | None
    ttl_minutes: int | None
    warnings: tuple[str, ...]
    damage_summary: str | None

    @classmethod
    def of(cls, feed: ParsedFeed) -> FeedHead:
        return cls(feed.title, feed.link, feed.language, feed.ttl_minutes, feed.warnings, feed.damage_summary)


@dataclass(frozen=True)
class Written:
    """A parsed body and what writing its entries changed."""

    feed: ParsedFeed | FeedHead
    new: int = 0
    updated: int = 0

    @property
    def status(self) -> PollStatus:
        return "new" if self.new else "updated" if self.updated else "unchanged"


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def is_same_body(state: SourceState, result: Fetched) -> bool:
    """True when the body is the one parsed last time (nothing to parse)."""
    return body_hash(result.body) == state.body_hash


def update_after_fetch(
    state: SourceState,
    result: Fetched | NotModified,
    now: datetime,
    cadence: Cadence,
    written: Written | None = None,
) -> SourceUpdate:
    """A poll that got an answer: not modified, the same body (``written`` None), or a parsed one."""
    max_age = parse_max_age(result.headers)
    redirect_url, redirect_count = _redirect(state, result.permanent_redirect)
    not_modified = SourceUpdate(
        last_polled_at=now,
        last_status="not_modified",
        last_http_status=304,
        next_poll_at=next_after_success(cadence, now, max_age=max_age),
        consecutive_errors=0,
        last_error=None,
        error_category=None,
        last_success_at=now,
        etag=result.etag,
        last_modified=result.last_modified,
        redirect_url=redirect_url,
        redirect_count=redirect_count,
    )
    if isinstance(result, NotModified):
        return not_modified
    unchanged = replace(
        not_modified,
        last_status="unchanged",
        last_http_status=result.status,
        body_hash=body_hash(result.body),
    )
    if written is None:
        return unchanged
    feed = written.feed
    return replace(
        unchanged,
        last_status=written.status,
        next_poll_at=next_after_success(cadence, now, ttl_minutes=feed.ttl_minutes, max_age=max_age),
        feed_title=feed.title,
        feed_link=feed.link,
        feed_language=feed.language,
        last_warning=feed.damage_summary,
    )


def update_after_error(
    state: SourceState,
    error: SourceError,
    now: datetime,
    cadence: Cadence,
    http_status: int | None = None,
) -> SourceUpdate:
    """A failed poll: its category, the back-off, and ``gone`` (never polled again) on a 410.

    ``http_status`` is the status of a body that then failed to parse or to be stored.
    """
    errors = state.consecutive_errors + 1
    status = getattr(error, "status", None) or http_status
    gone = status == GONE
    retry_after = getattr(error, "retry_after", None)
    return SourceUpdate(
        last_polled_at=now,
        last_status="gone" if gone else "error",
        last_http_status=status,
        next_poll_at=None if gone else next_after_error(cadence, now, errors, retry_after=retry_after),
        consecutive_errors=errors,
        last_error=error.message,
        error_category=error.category,
        last_error_at=now,
        gone=gone,
    )


def _redirect(state: SourceState, target: str | None) -> tuple[str | Keep | None, int | Keep]:
    """Follow a permanent redirect for good only after it was seen several polls in a row."""
    if target and target != state.fetch_url:
        return target, state.redirect_count + 1 if target == state.redirect_url else 1
    if state.redirect_url and state.redirect_count < REDIRECTS_TO_MOVE:
        return None, 0  # not seen again in a row: start counting afresh
    return KEEP, KEEP
