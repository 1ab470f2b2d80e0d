"""One source end to end: fetch (or NotModified) -> same body hash? -> parse ->
``ingest.prepare_entries`` (in a parser process of ``parsing.ParsePool``, or on the
writer thread without one) -> ``store.items.write_items`` + ``store.sources.record_poll``
applied wholly or not at all (with a pool, in one transaction with the other sources
waiting for the writer: ``writes``), with every failure (a ``StorageError`` too) recorded
on the source under a category. What each poll records (``SourceUpdate``: status,
validators, warning, error, redirects, the next poll) is decided by ``update``. Picking the due
sources, the run lock and the loop belong to ``run``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine

from ..clock import Clock
from ..config import Config
from ..errors import FetchError, ParseError, SourceError, StorageError
from ..fetch import Fetched, Fetcher, NotModified, Validators
from ..ingest import SourceInfo, prepare_entries
from ..parse import parse_feed
from ..schedule import Cadence
from ..store.common import transaction
from ..store.items import WriteCounts, write_items
from ..store.sources import REDIRECTS_TO_MOVE, SourceState, SourceUpdate, record_poll
from .parsing import Failed, ParseJob, ParsePool, Prepared
from .report import SourceOutcome
from .update import FeedHead, Written, is_same_body, update_after_error, update_after_fetch
from .writes import Write, WriteBatcher, apply_batch

log = logging.getLogger("aggregator.poller")


@dataclass(frozen=True)
class SourcePoller:
    """Polls one source into the database; writing runs on the ``writer`` thread, parsing too
    unless a ``ParsePool`` is given (then the body is parsed in a worker process)."""

    engine: Engine
    config: Config
    clock: Clock
    batcher: WriteBatcher = field(default_factory=WriteBatcher, repr=False, compare=False)

    async def poll(
        self,
        fetcher: Fetcher,
        writer: ThreadPoolExecutor,
        state: SourceState,
        pool: ParsePool | None = None,
    ) -> SourceOutcome:
        """Fetch ``state``'s feed, parse it (in ``pool`` when given), then record it on ``writer``."""
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
        if pool is not None and isinstance(result, Fetched) and not is_same_body(state, result):
            now = self.clock()
            prepared = await pool.run(self._job(state, result, now))
            if isinstance(prepared, Prepared):
                write = self._write(state, result, started, now, prepared)
                outcome = await self.batcher.submit(self.engine, writer, write)
            else:
                outcome = await _in_writer(writer, self.apply, state, result, started, now, prepared)
        else:
            outcome = await _in_writer(writer, self.process, state, result, started)
        return replace(outcome, fetch_elapsed=result.elapsed)

    def process(self, state: SourceState, result: Fetched | NotModified, started: float) -> SourceOutcome:
        """Record a fetch result: not modified, the same body, or new items parsed and written."""
        now = self.clock()
        if isinstance(result, NotModified) or is_same_body(state, result):
            return self._record(state, update_after_fetch(state, result, now, self._cadence(state)), started)
        return self.apply(state, result, started, now, self._prepare(state, result, now))

    def apply(
        self, state: SourceState, result: Fetched, started: float, now: datetime, prepared: Prepared | Failed
    ) -> SourceOutcome:
        """Write a parsed body's entries and record the poll, in one transaction; or record its failure."""
        if isinstance(prepared, Failed):
            if prepared.detail:
                log.error("unexpected error parsing %s:\n%s", state.url, prepared.detail)
            error = ParseError(prepared.message, category=prepared.category)
            return self.record_error(state, error, started, http_status=result.status)
        write = self._write(state, result, started, now, prepared)
        return write.done(apply_batch(self.engine, [write.run])[0])

    def _write(
        self, state: SourceState, result: Fetched, started: float, now: datetime, prepared: Prepared
    ) -> Write[tuple[WriteCounts, SourceUpdate]]:
        """Writing a parsed body's entries and recording the poll, on the connection given;
        then the outcome, or the storage error recorded on the source."""
        feed, incoming = prepared.feed, prepared.incoming
        warning = feed.damage_summary
        if warning:
            log.warning("%s: stored what the feed parser recovered: %s", state.url, warning)
        source = self._source(state)

        def run(conn: Connection) -> tuple[WriteCounts, SourceUpdate]:
            counts = write_items(conn, source, incoming, now)
            written = Written(feed, counts.new, counts.updated)
            update = update_after_fetch(state, result, now, self._cadence(state), written)
            record_poll(conn, state.id, update)
            return counts, update

        def done(applied: tuple[WriteCounts, SourceUpdate] | Exception) -> SourceOutcome:
            if isinstance(applied, StorageError):
                log.error("storage error writing %s: %s", state.url, applied)
                failure = SourceError(f"storage error: {applied}", category="storage")
                return self.record_error(state, failure, started, http_status=result.status)
            if isinstance(applied, Exception):
                raise applied
            counts, update = applied
            self._log_move(state, update)
            return self._outcome(
                state,
                update,
                started,
                new=counts.new,
                updated=counts.updated,
                message=warning or "; ".join(feed.warnings[:3]) or None,
            )

        return Write(run, done)

    def record_error(
        self, state: SourceState, exc: SourceError, started: float, http_status: int | None = None
    ) -> SourceOutcome:
        """Record a failed poll on the source: its category, the back-off, and ``gone`` on a 410."""
        update = update_after_error(state, exc, self.clock(), self._cadence(state), http_status)
        try:
            with transaction(self.engine) as conn:
                record_poll(conn, state.id, update)
        except StorageError as db_exc:
            log.error("cannot record the error of %s: %s", state.url, db_exc)
        log.info("%s: %s: %s", state.url, exc.category, exc.message)
        return self._outcome(state, update, started, category=exc.category, message=exc.message)

    def _job(self, state: SourceState, result: Fetched, now: datetime) -> ParseJob:
        return ParseJob(
            body=result.body,
            headers=dict(result.headers),
            url=result.final_url,
            now=now,
            max_entries=self.config.poller.max_items_per_feed,
            source=self._source(state),
            aliases=dict(self.config.aliases),
        )

    def _source(self, state: SourceState) -> SourceInfo:
        return SourceInfo(state.id, state.kind, state.tags, private=state.private)

    def _prepare(self, state: SourceState, result: Fetched, now: datetime) -> Prepared | Failed:
        """Parse and prepare in this thread (no pool); an unexpected parser failure is a ``Failed`` too."""
        try:
            feed = parse_feed(
                result.body,
                result.headers,
                result.final_url,
                now=now,
                max_entries=self.config.poller.max_items_per_feed,
            )
        except ParseError as exc:
            return Failed(exc.category, exc.message)
        except Exception as exc:
            log.exception("unexpected error parsing %s", state.url)
            return Failed("parse", f"unexpected {type(exc).__name__}: {exc}")
        return Prepared(FeedHead.of(feed), prepare_entries(feed, self._source(state), self.config.aliases))

    def _record(self, state: SourceState, update: SourceUpdate, started: float) -> SourceOutcome:
        """Record a poll that parsed nothing (not modified, the same body)."""
        with transaction(self.engine) as conn:
            record_poll(conn, state.id, update)
        self._log_move(state, update)
        return self._outcome(state, update, started)

    def _log_move(self, state: SourceState, update: SourceUpdate) -> None:
        if update.redirect_count == REDIRECTS_TO_MOVE:
            log.info("%s moved permanently to %s", state.url, update.redirect_url)

    def _cadence(self, state: SourceState) -> Cadence:
        p = self.config.poller
        return Cadence(state.interval or p.interval, p.min_interval, p.max_interval)

    def _outcome(self, state: SourceState, update: SourceUpdate, started: float, **kw: Any) -> SourceOutcome:
        kw.update(elapsed=time.perf_counter() - started, http_status=update.last_http_status)
        return SourceOutcome(state.id, state.url, state.label, update.last_status, **kw)


async def _in_writer(
    writer: ThreadPoolExecutor, fn: Callable[..., SourceOutcome], *args: Any
) -> SourceOutcome:
    return await asyncio.get_running_loop().run_in_executor(writer, fn, *args)
