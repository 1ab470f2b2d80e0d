"""Runs: ``Poller`` syncs the configured sources, then claims due sources in batches
(``store.leases``: per-source leases, renewed while it works) and polls them
concurrently under one run deadline, claiming more as slots free until none is
left, once (``run_once``) or as they come due until stopped (``run_loop``).

On PostgreSQL any number of pollers share the due sources this way, the per-host
limit counted over all of them. On SQLite one poller runs at a time: it takes the
run lock first (``store.locks``, taken over at once from a dead process on this
host) and a second poller is told so. What happens to one source belongs to
``source``; the reports to ``report``.
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
from datetime import datetime

from sqlalchemy.engine import Engine

from ..clock import Clock, utcnow
from ..config import Config
from ..errors import StorageError
from ..fetch import Fetcher
from ..store import leases, locks
from ..store import websub as subscriptions
from ..store.common import connect, transaction
from ..store.history import compact_history
from ..store.sources import SourceState, next_due_time, sync_sources
from .parsing import ParsePool, pool_size
from .report import RunReport, SourceOutcome
from .source import SourcePoller

log = logging.getLogger("aggregator.poller")

LOCK_NAME = "poll"
RETRY = 0.2  # seconds before claiming again when due sources wait on a host at its limit
OWNER_HOST_CHARS = 40  # lease owners fit the 64-character owner columns


def lock_owner() -> str:
    return f"{socket.gethostname()[:OWNER_HOST_CHARS]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Poller:
    """Polls the configured sources into the database."""

    def __init__(
        self,
        engine: Engine,
        config: Config,
        *,
        clock: Clock = utcnow,
        on_outcome: Callable[[SourceOutcome], None] | None = None,
        lease_ttl: float | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.on_outcome = on_outcome
        self.lease_ttl = float(lease_ttl or config.poller.lease_ttl)
        self.owner = lock_owner()
        self.shared = engine.dialect.name == "postgresql"  # several pollers share; else one at a time
        self.limits = config.poller.fetch_limits
        self.source_poller = SourcePoller(engine, config, clock)
        self.parse_workers = pool_size(config.poller.parse_workers)

    def _parse_pool(self) -> ParsePool | None:
        """The worker processes parsing bodies (started on first use), or None: parse in the writer."""
        return ParsePool(self.parse_workers) if self.parse_workers > 1 else None

    async def run_once(self, *, force: bool = False) -> RunReport:
        """Poll the due sources (all of them with ``force``) until none is left to claim."""
        holder = self._acquire()
        if holder is not None:
            return RunReport(locked_by=holder)
        pool = self._parse_pool()
        try:
            report = await self._pass(force=force, pool=pool)
        finally:
            if pool is not None:
                pool.shutdown()
            self._release()
        await self.push()
        return report

    async def run_loop(self, stop: asyncio.Event, *, max_sleep: float = 60.0) -> list[RunReport]:
        """Poll sources as they come due until ``stop`` is set."""
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
                        self._release()
                await self.push()
                delay = self._seconds_until_next_due(max_sleep)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
        finally:
            if pool is not None:
                pool.shutdown()
        return reports

    async def push(self) -> None:
        """Verify the hub's intents and deliver what changed to its subscribers (``aggregator.websub``),
        when anyone subscribed; a failure is logged, the poll run stands."""
        if not self.config.websub.enabled:
            return
        try:
            with connect(self.engine) as conn:
                if not subscriptions.has_work(conn):
                    return
            from ..websub import Hub  # the renderers load only when someone subscribed

            await Hub(self.engine, self.config, clock=self.clock).run_once()
        except StorageError as exc:
            log.error("websub: cannot deliver: %s", exc)

    def _acquire(self) -> locks.Holder | None:
        """On SQLite, the run lock (None: taken; else who holds it); on PostgreSQL nothing to take."""
        if self.shared:
            return None
        holder = locks.acquire(self.engine, LOCK_NAME, self.owner, self.lease_ttl, self.clock())
        if holder is not None and is_dead_local_owner(holder.owner):
            log.warning("taking over the poll lock of a dead process (%s)", holder.owner)
            holder = locks.acquire(
                self.engine, LOCK_NAME, self.owner, self.lease_ttl, self.clock(), stale_owner=holder.owner
            )
        if holder is None:
            leases.clear(self.engine)  # the only poller: leases a killed run left are void
        return holder

    def _release(self) -> None:
        if not self.shared:
            locks.release(self.engine, LOCK_NAME, self.owner)

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
        self._sync()
        since = leases.join_sweep(self.engine, self.owner, self.lease_ttl, self.clock()) if force else None
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aggregator-writer")
        renewer = asyncio.create_task(self._keep_leases(since))
        try:
            async with Fetcher(
                self.limits,
                max_connections=self.config.poller.concurrency,
                per_host=self.config.poller.per_host,
                clock=self.clock,
            ) as fetcher:
                await self._poll_claimed(fetcher, writer, pool, report, stop, since)
        finally:
            renewer.cancel()
            writer.shutdown(wait=True)
            leases.release(self.engine, self.owner)  # what a deadline or a failure left unrecorded
        if since is not None:
            leases.end_sweep(self.engine, since)
        self._compact_history()
        report.elapsed = time.perf_counter() - started
        return report

    def _compact_history(self) -> None:
        """A bounded step of bookmark-history compaction (``store.history``); a failure waits a run."""
        try:
            with transaction(self.engine) as conn:
                compact_history(conn, self.clock())
        except StorageError as exc:
            log.warning("compacting the bookmark history failed: %s", exc)

    def _sync(self) -> None:
        """Make the sources match the configuration.

        Raises:
            StorageError: the sources cannot be written.
        """
        with transaction(self.engine) as conn:
            sync_sources(conn, self.config.sources, self.clock())

    def _claim(self, limit: int, since: datetime | None, polled: set[int]) -> leases.Claim:
        """Lease due sources to this poller, never one it polled in this run already."""
        p = self.config.poller
        claim = leases.claim(
            self.engine,
            self.owner,
            self.clock(),
            self.lease_ttl,
            limit=limit,
            per_host=p.per_host,
            since=since,
            skip=polled,
        )
        polled.update(state.id for state in claim.sources)
        return claim

    async def _poll_claimed(
        self,
        fetcher: Fetcher,
        writer: ThreadPoolExecutor,
        pool: ParsePool | None,
        report: RunReport,
        stop: asyncio.Event | None,
        since: datetime | None,
    ) -> None:
        """Claim due sources and poll them, claiming more as slots free, until none is left to claim
        and none is running, or the run deadline (what is left waits for the next run)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.poller.run_deadline
        slots = self.config.poller.concurrency
        refill = max(1, slots // 4)  # claim in batches, not one source per finished poll
        running: set[asyncio.Task[None]] = set()
        polled: set[int] = set()
        left = True
        try:
            while True:
                stopping = (stop is not None and stop.is_set()) or loop.time() >= deadline
                free = slots - len(running)
                if left and not stopping and (free >= refill or not running):
                    claim = await loop.run_in_executor(writer, self._claim, free, since, polled)
                    for state in claim.sources:
                        running.add(asyncio.create_task(self._poll_one(fetcher, writer, state, pool, report)))
                    left = claim.left > 0
                if not running:
                    if stopping or not left:
                        return
                    await asyncio.sleep(RETRY)  # due sources wait on a host at its limit: look again
                    continue
                timeout = max(0.0, deadline - loop.time())
                if left:
                    timeout = min(timeout, RETRY)
                done, _ = await asyncio.wait(running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                running -= done
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        log.error("polling a source failed", exc_info=task.exception())
                if loop.time() >= deadline and running:
                    log.warning("run deadline reached; %d sources left for the next run", len(running))
                    return
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def _poll_one(
        self,
        fetcher: Fetcher,
        writer: ThreadPoolExecutor,
        state: SourceState,
        pool: ParsePool | None,
        report: RunReport,
    ) -> None:
        outcome = await self.source_poller.poll(fetcher, writer, state, pool)
        report.outcomes.append(outcome)
        if self.on_outcome:
            self.on_outcome(outcome)

    async def _keep_leases(self, since: datetime | None) -> None:
        """Every third of a lease's life, renew this poller's leases, the forced sweep it is in and
        (SQLite) the run lock."""
        while True:
            await asyncio.sleep(self.lease_ttl / 3)
            try:
                await asyncio.to_thread(self._renew, since, self.clock())
            except StorageError as exc:
                log.error("cannot renew the leases: %s", exc)

    def _renew(self, since: datetime | None, now: datetime) -> None:
        leases.renew(self.engine, self.owner, self.lease_ttl, now)
        if since is not None:
            leases.renew_sweep(self.engine, since, self.lease_ttl, now)
        if not self.shared and not locks.renew(self.engine, LOCK_NAME, self.owner, self.lease_ttl, now):
            log.error("lost the poll lock")


def is_dead_local_owner(owner: str | None) -> bool:
    """True when the lock holder was a process on this host that no longer exists."""
    if not owner or owner.count(":") < 2:
        return False
    host, pid_text, _ = owner.rsplit(":", 2)
    if host != socket.gethostname()[:OWNER_HOST_CHARS] or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
