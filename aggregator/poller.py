"""Glue: poll one source end to end, a run over the due sources, and the daemon loop.

The path of one source: fetch (or NotModified) -> same body hash? -> parse ->
ingest.prepare_entries -> store.items.write_items + store.sources.record_poll in
one transaction. Failures are recorded on the source with a category; they
never stop the run. Parsing and writing happen on one worker thread, so the
event loop keeps fetching while a large feed is parsed and SQLite sees a
single writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .config import Config
from .errors import FetchError, ParseError, SourceError, StorageError
from .fetch import Fetched, Fetcher, FetchLimits, NotModified, Validators
from .ingest import SourceInfo, prepare_entries
from .parse import parse_feed
from .schedule import Cadence, next_after_error, next_after_success, parse_max_age
from .store import locks
from .store.items import write_items
from .store.sources import (
    REDIRECTS_TO_MOVE,
    SourceState,
    due_sources,
    next_due_time,
    record_poll,
    sync_sources,
)

log = logging.getLogger("aggregator.poller")

LOCK_NAME = "poll"
LOCK_TTL = 900.0
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SourceOutcome:
    """How one source's poll went, for the CLI line and the run summary."""

    source_id: int
    url: str
    label: str
    status: str  # new | updated | unchanged | not_modified | error | gone
    new: int = 0
    updated: int = 0
    category: str | None = None
    message: str | None = None
    elapsed: float = 0.0


@dataclass
class RunReport:
    outcomes: list[SourceOutcome] = field(default_factory=list)
    locked_by: locks.Holder | None = None
    elapsed: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def summary(self) -> str:
        if self.locked_by:
            return f"another poll is running ({self.locked_by.owner}); nothing done"
        new = sum(o.new for o in self.outcomes)
        updated = sum(o.updated for o in self.outcomes)
        return (
            f"{len(self.outcomes)} sources polled in {self.elapsed:.2f}s: "
            f"{new} new items, {updated} updated; "
            f"{self.count('not_modified')} not modified, {self.count('unchanged')} unchanged, "
            f"{self.count('error') + self.count('gone')} failed"
        )


def lock_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Poller:
    """Polls the configured sources into the database."""

    def __init__(
        self,
        engine: Engine,
        config: Config,
        *,
        clock: Clock = utcnow,
        on_outcome: Callable[[SourceOutcome], None] | None = None,
        lock_ttl: float = LOCK_TTL,
    ) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.on_outcome = on_outcome
        self.lock_ttl = lock_ttl
        self.owner = lock_owner()
        p = config.poller
        self.limits = FetchLimits(
            connect_timeout=p.connect_timeout,
            total_timeout=p.total_timeout,
            max_bytes=p.max_bytes,
            max_redirects=p.max_redirects,
            allow_private=p.allow_private_networks,
        )

    # -- runs ------------------------------------------------------------------------------

    async def run_once(self, *, force: bool = False) -> RunReport:
        """One pass over the due sources (all of them with ``force``), under the run lock."""
        holder = self._acquire()
        if holder is not None:
            return RunReport(locked_by=holder)
        try:
            return await self._pass(force=force)
        finally:
            locks.release(self.engine, LOCK_NAME, self.owner)

    async def run_loop(self, stop: asyncio.Event, *, max_sleep: float = 60.0) -> list[RunReport]:
        """Poll sources as they come due until ``stop`` is set; holds the run lock throughout."""
        reports: list[RunReport] = []
        while not stop.is_set():
            holder = self._acquire()
            if holder is not None:
                log.info("another poll is running (%s); waiting", holder.owner)
            else:
                try:
                    reports.append(await self._pass(force=False, stop=stop))
                finally:
                    locks.release(self.engine, LOCK_NAME, self.owner)
            delay = self._seconds_until_next_due(max_sleep)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
        return reports

    def _acquire(self) -> locks.Holder | None:
        holder = locks.acquire(self.engine, LOCK_NAME, self.owner, self.lock_ttl, self.clock())
        if holder is not None and is_dead_local_owner(holder.owner):
            log.warning("taking over the poll lock of a dead process (%s)", holder.owner)
            holder = locks.acquire(
                self.engine, LOCK_NAME, self.owner, self.lock_ttl, self.clock(), stale_owner=holder.owner
            )
        return holder

    def _seconds_until_next_due(self, max_sleep: float) -> float:
        with self.engine.connect() as conn:
            due = next_due_time(conn, self.clock())
        if due is None:
            return max_sleep
        return min(max(1.0, (due - self.clock()).total_seconds()), max_sleep)

    async def _pass(self, *, force: bool, stop: asyncio.Event | None = None) -> RunReport:
        started = time.perf_counter()
        report = RunReport()
        try:
            with self.engine.begin() as conn:
                sync_sources(conn, self.config.sources, self.clock())
                due = due_sources(conn, self.clock(), force=force)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read sources: {exc}") from exc
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aggregator-writer")
        gate = asyncio.Semaphore(self.config.poller.concurrency)
        renewer = asyncio.create_task(self._keep_lock())
        try:
            async with Fetcher(
                self.limits,
                max_connections=self.config.poller.concurrency,
                per_host=self.config.poller.per_host,
            ) as fetcher:

                async def one(state: SourceState) -> None:
                    async with gate:
                        if stop is not None and stop.is_set():
                            return
                        outcome = await self._poll_source(fetcher, writer, state)
                    report.outcomes.append(outcome)
                    if self.on_outcome:
                        self.on_outcome(outcome)

                tasks = [asyncio.create_task(one(s)) for s in due]
                _, pending = (
                    await asyncio.wait(tasks, timeout=self.config.poller.run_deadline)
                    if tasks
                    else (
                        set(),
                        set(),
                    )
                )
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.gather(*pending, return_exceptions=True)
                    log.warning("run deadline reached; %d sources left for the next run", len(pending))
        finally:
            renewer.cancel()
            writer.shutdown(wait=True)
        report.elapsed = time.perf_counter() - started
        return report

    async def _keep_lock(self) -> None:
        while True:
            await asyncio.sleep(self.lock_ttl / 3)
            if not locks.renew(self.engine, LOCK_NAME, self.owner, self.lock_ttl, self.clock()):
                log.error("lost the poll lock")

    # -- one source ------------------------------------------------------------------------

    async def _poll_source(
        self, fetcher: Fetcher, writer: ThreadPoolExecutor, state: SourceState
    ) -> SourceOutcome:
        started = time.perf_counter()
        allow_private = state.allow_private if state.allow_private is not None else None
        try:
            result = await fetcher.fetch(
                state.fetch_url, Validators(state.etag, state.last_modified), allow_private=allow_private
            )
        except FetchError as exc:
            return await self._in_writer(writer, self._record_error, state, exc, started)
        except Exception as exc:  # a bug must not stop the run: record it on the source
            log.exception("unexpected error fetching %s", state.url)
            err = FetchError(f"unexpected {type(exc).__name__}: {exc}", category="connect")
            return await self._in_writer(writer, self._record_error, state, err, started)
        return await self._in_writer(writer, self._process, state, result, started)

    async def _in_writer(
        self, writer: ThreadPoolExecutor, fn: Callable[..., SourceOutcome], *args: Any
    ) -> SourceOutcome:
        return await asyncio.get_running_loop().run_in_executor(writer, fn, *args)

    def _process(self, state: SourceState, result: Fetched | NotModified, started: float) -> SourceOutcome:
        now = self.clock()
        cadence = self._cadence(state)
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
                next_poll_at=next_after_success(cadence, now, max_age=parse_max_age(result.headers)),
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
                next_poll_at=next_after_success(cadence, now, max_age=parse_max_age(result.headers)),
                **validators,
                **base,
            )
            return self._outcome(state, "unchanged", started)
        try:
            feed = parse_feed(
                result.body,
                result.headers,
                result.final_url,
                now=now,
                max_entries=self.config.poller.max_items_per_feed,
            )
        except ParseError as exc:
            return self._record_error(state, exc, started, http_status=result.status)
        except Exception as exc:
            log.exception("unexpected error parsing %s", state.url)
            err = ParseError(f"unexpected {type(exc).__name__}: {exc}", category="parse")
            return self._record_error(state, err, started, http_status=result.status)
        incoming = prepare_entries(feed, SourceInfo(state.id, state.kind, state.tags), self.config.aliases)
        next_poll = next_after_success(
            cadence, now, ttl_minutes=feed.ttl_minutes, max_age=parse_max_age(result.headers)
        )
        try:
            with self.engine.begin() as conn:
                counts = write_items(conn, SourceInfo(state.id, state.kind, state.tags), incoming, now)
                status = "new" if counts.new else "updated" if counts.updated else "unchanged"
                record_poll(
                    conn,
                    state.id,
                    last_status=status,
                    body_hash=body_hash,
                    feed_title=feed.title,
                    feed_link=feed.link,
                    next_poll_at=next_poll,
                    **validators,
                    **base,
                )
        except SQLAlchemyError as exc:
            log.error("storage error writing %s: %s", state.url, exc)
            failure = SourceError(f"storage error: {_first_line(exc)}", category="storage")
            return self._record_error(state, failure, started, http_status=result.status)
        return self._outcome(
            state,
            status,
            started,
            new=counts.new,
            updated=counts.updated,
            message="; ".join(feed.warnings[:3]) or None,
        )

    def _record_error(
        self, state: SourceState, exc: SourceError, started: float, http_status: int | None = None
    ) -> SourceOutcome:
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


def is_dead_local_owner(owner: str | None) -> bool:
    """True when the lock holder was a process on this host that no longer exists."""
    if not owner or owner.count(":") < 2:
        return False
    host, pid_text, _ = owner.rsplit(":", 2)
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
