"""One source end to end: fetch (or NotModified) -> same body hash? -> parse ->
``ingest.prepare_entries`` -> ``store.items.write_items`` + ``store.sources.record_poll``
in one transaction, with every failure recorded on the source under a category,
a damaged but readable body's warning recorded too (and cleared by a clean parse),
permanent redirects counted before they are followed, and the next poll time
taken from the source's cadence. Picking the due sources, the run lock and the
loop belong to ``run``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..clock import Clock
from ..config import Config
from ..db import first_line
from ..errors import FetchError, ParseError, SourceError
from ..fetch import Fetched, Fetcher, NotModified, Validators
from ..ingest import SourceInfo, prepare_entries
from ..parse import ParsedFeed, parse_feed
from ..schedule import Cadence, next_after_error, next_after_success, parse_max_age
from ..store.items import write_items
from ..store.sources import REDIRECTS_TO_MOVE, SourceState, record_poll
from .report import SourceOutcome

log = logging.getLogger("aggregator.poller")


@dataclass(frozen=True)
class SourcePoller:
    """Polls one source into the database; parsing and writing run on the ``writer`` thread."""

    engine: Engine
    config: Config
    clock: Clock

    async def poll(self, fetcher: Fetcher, writer: ThreadPoolExecutor, state: SourceState) -> SourceOutcome:
        """Fetch ``state``'s feed, then process the result (or record the failure) on ``writer``."""
        started = time.perf_counter()
        try:
            result = await fetcher.fetch(
                state.fetch_url,
                Validators(state.etag, state.last_modified),
                allow_private=state.allow_private,
            )
        except FetchError as exc:
            return await _in_writer(writer, self.record_error, state, exc, started)
        except Exception as exc:  # a bug must not stop the run: record it on the source
            log.exception("unexpected error fetching %s", state.url)
            err = FetchError(f"unexpected {type(exc).__name__}: {exc}", category="connect")
            return await _in_writer(writer, self.record_error, state, err, started)
        return await _in_writer(writer, self.process, state, result, started)

    def process(self, state: SourceState, result: Fetched | NotModified, started: float) -> SourceOutcome:
        """Record a fetch result: not modified, the same body, or new items parsed and written."""
        now = self.clock()
        cadence = self._cadence(state)
        max_age = parse_max_age(result.headers)
        base: dict[str, Any] = {
            "last_polled_at": now,
            "last_success_at": now,
            "consecutive_errors": 0,
            "last_error": None,
            "error_category": None,
            **self._redirect_update(state, result.permanent_redirect),
        }
        if isinstance(result, NotModified):
            self._record(
                state,
                last_status="not_modified",
                last_http_status=304,
                etag=result.etag,
                last_modified=result.last_modified,
                next_poll_at=next_after_success(cadence, now, max_age=max_age),
                **base,
            )
            return self._outcome(state, "not_modified", started)
        body_hash = hashlib.sha256(result.body).hexdigest()
        validators = {
            "etag": result.etag,
            "last_modified": result.last_modified,
            "last_http_status": result.status,
        }
        if body_hash == state.body_hash:
            self._record(
                state,
                last_status="unchanged",
                body_hash=body_hash,
                next_poll_at=next_after_success(cadence, now, max_age=max_age),
                **validators,
                **base,
            )
            return self._outcome(state, "unchanged", started)
        try:
            feed = self._parse(state, result, now)
        except ParseError as exc:
            return self.record_error(state, exc, started, http_status=result.status)
        warning = feed.damage_summary
        if warning:
            log.warning("%s: stored what the feed parser recovered: %s", state.url, warning)
        source = SourceInfo(state.id, state.kind, state.tags)
        incoming = prepare_entries(feed, source, self.config.aliases)
        next_poll = next_after_success(cadence, now, ttl_minutes=feed.ttl_minutes, max_age=max_age)
        try:
            with self.engine.begin() as conn:
                counts = write_items(conn, source, incoming, now)
                status = "new" if counts.new else "updated" if counts.updated else "unchanged"
                record_poll(
                    conn,
                    state.id,
                    last_status=status,
                    body_hash=body_hash,
                    feed_title=feed.title,
                    feed_link=feed.link,
                    feed_language=feed.language,
                    last_warning=warning,
                    next_poll_at=next_poll,
                    **validators,
                    **base,
                )
        except SQLAlchemyError as exc:
            log.error("storage error writing %s: %s", state.url, exc)
            failure = SourceError(f"storage error: {first_line(exc)}", category="storage")
            return self.record_error(state, failure, started, http_status=result.status)
        return self._outcome(
            state,
            status,
            started,
            new=counts.new,
            updated=counts.updated,
            message=warning or "; ".join(feed.warnings[:3]) or None,
        )

    def record_error(
        self, state: SourceState, exc: SourceError, started: float, http_status: int | None = None
    ) -> SourceOutcome:
        """Record a failed poll on the source: its category, the back-off, and ``gone`` on a 410."""
        now = self.clock()
        errors = state.consecutive_errors + 1
        status = getattr(exc, "status", None) or http_status
        gone = status == 410
        retry_after = getattr(exc, "retry_after", None)
        values: dict[str, Any] = {
            "last_polled_at": now,
            "last_status": "gone" if gone else "error",
            "last_http_status": status,
            "last_error": exc.message,
            "error_category": exc.category,
            "last_error_at": now,
            "consecutive_errors": errors,
            "next_poll_at": None
            if gone
            else next_after_error(self._cadence(state), now, errors, retry_after=retry_after),
        }
        if gone:
            values["gone"] = True
        try:
            self._record(state, **values)
        except SQLAlchemyError as db_exc:
            log.error("cannot record the error of %s: %s", state.url, db_exc)
        log.info("%s: %s: %s", state.url, exc.category, exc.message)
        return self._outcome(
            state, "gone" if gone else "error", started, category=exc.category, message=exc.message
        )

    def _parse(self, state: SourceState, result: Fetched, now: datetime) -> ParsedFeed:
        """The parsed body; an unexpected parser failure becomes a ``ParseError`` too."""
        try:
            return parse_feed(
                result.body,
                result.headers,
                result.final_url,
                now=now,
                max_entries=self.config.poller.max_items_per_feed,
            )
        except ParseError:
            raise
        except Exception as exc:
            log.exception("unexpected error parsing %s", state.url)
            raise ParseError(f"unexpected {type(exc).__name__}: {exc}", category="parse") from exc

    def _record(self, state: SourceState, **values: Any) -> None:
        with self.engine.begin() as conn:
            record_poll(conn, state.id, **values)

    def _redirect_update(self, state: SourceState, target: str | None) -> dict[str, Any]:
        """Follow a permanent redirect for good only after it was seen several polls in a row."""
        if target and target != state.fetch_url:
            count = state.redirect_count + 1 if target == state.redirect_url else 1
            if count == REDIRECTS_TO_MOVE:
                log.info("%s moved permanently to %s", state.url, target)
            return {"redirect_url": target, "redirect_count": count}
        if state.redirect_url and state.redirect_count < REDIRECTS_TO_MOVE:
            return {"redirect_url": None, "redirect_count": 0}
        return {}

    def _cadence(self, state: SourceState) -> Cadence:
        p = self.config.poller
        return Cadence(state.interval or p.interval, p.min_interval, p.max_interval)

    def _outcome(self, state: SourceState, status: str, started: float, **kw: Any) -> SourceOutcome:
        return SourceOutcome(
            state.id, state.url, state.label, status, elapsed=time.perf_counter() - started, **kw
        )


async def _in_writer(
    writer: ThreadPoolExecutor, fn: Callable[..., SourceOutcome], *args: Any
) -> SourceOutcome:
    return await asyncio.get_running_loop().run_in_executor(writer, fn, *args)
