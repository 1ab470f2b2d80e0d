"""Runs: ``Poller`` takes the run lock (renewing it while it works, taking it over
from a dead process on this host), syncs the configured sources, picks the due
ones and polls them concurrently under one run deadline, once (``run_once``) or
as they come due until stopped (``run_loop``). What happens to one source
belongs to ``source``; the reports to ``report``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.engine import Engine

from ..clock import Clock, utcnow
from ..config import Config
from ..fetch import Fetcher
from ..store import locks
from ..store.common import connect, transaction
from ..store.sources import SourceState, due_sources, next_due_time, sync_sources
from .parsing import ParsePool, pool_size
from .report import RunReport, SourceOutcome
from .source import SourcePoller

log = logging.getLogger("aggregator.poller")

LOCK_NAME = "poll"
LOCK_TTL = 900.0


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
        self.limits = config.poller.fetch_limits
        self.source_poller = SourcePoller(engine, config, clock)
        self.parse_workers = pool_size(config.poller.parse_workers)

    def _parse_pool(self) -> ParsePool | None:
        """The worker processes parsing bodies (started on first use), or None: parse in the writer."""
        return ParsePool(self.parse_workers) if self.parse_workers > 1 else None

    async def run_once(self, *, force: bool = False) -> RunReport:
        """One pass over the due sources (all of them with ``force``), under the run lock."""
        holder = self._acquire()
        if holder is not None:
            return RunReport(locked_by=holder)
        pool = self._parse_pool()
        try:
            return await self._pass(force=force, pool=pool)
        finally:
            if pool is not None:
                pool.shutdown()
            locks.release(self.engine, LOCK_NAME, self.owner)

    async def run_loop(self, stop: asyncio.Event, *, max_sleep: float = 60.0) -> list[RunReport]:
        """Poll sources as they come due until ``stop`` is set, taking the run lock for each pass."""
        reports: list[RunReport] = []
        pool = self._parse_pool()  # one pool for every pass; shut down when stopped
        try:
            while not stop.is_set():
                holder = self._acquire()
                if holder is not None:
                    log.info("another poll is running (%s); waiting", holder.owner)
                else:
                    try:
                        reports.append(await self._pass(force=False, stop=stop, pool=pool))
                    finally:
                        locks.release(self.engine, LOCK_NAME, self.owner)
                delay = self._seconds_until_next_due(max_sleep)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
        finally:
            if pool is not None:
                pool.shutdown()
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
        with connect(self.engine) as conn:
            due = next_due_time(conn, self.clock())
        if due is None:
            return max_sleep
        return min(max(1.0, (due - self.clock()).total_seconds()), max_sleep)

    async def _pass(
        self, *, force: bool, stop: asyncio.Event | None = None, pool: ParsePool | None = None
    ) -> RunReport:
        started = time.perf_counter()
        report = RunReport()
        due = self._due_sources(force=force)
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aggregator-writer")
        renewer = asyncio.create_task(self._keep_lock())
        try:
            async with Fetcher(
                self.limits,
                max_connections=self.config.poller.concurrency,
                per_host=self.config.poller.per_host,
                clock=self.clock,
            ) as fetcher:
                await self._poll_all(fetcher, writer, pool, due, report, stop)
        finally:
            renewer.cancel()
            writer.shutdown(wait=True)
        report.elapsed = time.perf_counter() - started
        return report

    def _due_sources(self, *, force: bool) -> list[SourceState]:
        """Sync the configured sources, then read the due ones.

        Raises:
            StorageError: the sources cannot be read.
        """
        with transaction(self.engine) as conn:
            sync_sources(conn, self.config.sources, self.clock())
            return due_sources(conn, self.clock(), force=force)

    async def _poll_all(
        self,
        fetcher: Fetcher,
        writer: ThreadPoolExecutor,
        pool: ParsePool | None,
        due: list[SourceState],
        report: RunReport,
        stop: asyncio.Event | None,
    ) -> None:
        """Poll ``due`` into ``report`` until the run deadline; what is left waits for the next run."""
        gate = asyncio.Semaphore(self.config.poller.concurrency)

        async def one(state: SourceState) -> None:
            async with gate:
                if stop is not None and stop.is_set():
                    return
                outcome = await self.source_poller.poll(fetcher, writer, state, pool)
            report.outcomes.append(outcome)
            if self.on_outcome:
                self.on_outcome(outcome)

        tasks = [asyncio.create_task(one(s)) for s in due]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self.config.poller.run_deadline)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            log.warning("run deadline reached; %d sources left for the next run", len(pending))

    async def _keep_lock(self) -> None:
        while True:
            await asyncio.sleep(self.lock_ttl / 3)
            if not locks.renew(self.engine, LOCK_NAME, self.owner, self.lock_ttl, self.clock()):
                log.error("lost the poll lock")


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
