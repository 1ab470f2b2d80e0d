"""Parse and prepare a fetched body, in this thread or in a pool of processes.

feedparser is pure Python, so threads do not spread parsing over cores. With
``[poller] parse_workers`` above 1 (default: one per CPU; 0 or 1 parse in the
writer thread as before) each body is sent to a ``ProcessPoolExecutor`` as a
``ParseJob`` and comes back as plain data: ``Prepared`` (the ``ParsedFeed`` and its
``Incoming`` entries) or ``Failed`` (a category and a message). Nothing crosses
the process boundary as an exception, so whatever a worker raises, and a worker
that dies (``BrokenProcessPool``), becomes a failure recorded on that source; a
broken pool is replaced for the sources that follow.

Workers start through ``forkserver`` where the platform has it (``spawn``
elsewhere): forking the poller itself, with its event loop, resolver and writer
threads, is not safe. They ignore SIGINT and SIGTERM: the poller owns the stop and
shuts the pool down after the sources in flight are written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import signal
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import BrokenExecutor, Executor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import ParseError
from ..ingest import Incoming, SourceInfo, prepare_entries
from ..parse import parse_feed
from .update import FeedHead

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger("aggregator.poller")

WORKERS_ENV = "AGGREGATOR_PARSE_WORKERS"  # overrides the default (one per CPU) when the config sets none


@dataclass(frozen=True)
class ParseJob:
    """Everything parsing and preparing one body needs; the clock's ``now`` is passed in."""

    body: bytes
    headers: Mapping[str, str]
    url: str
    now: datetime
    max_entries: int
    source: SourceInfo
    aliases: Mapping[str, str]


@dataclass(frozen=True)
class Prepared:
    """A parsed body's entries, ready for the writer, and what the poll records of the feed."""

    feed: FeedHead
    incoming: list[Incoming]


@dataclass(frozen=True)
class Failed:
    """A body that could not be parsed: the ``ParseError`` as data (category, message)."""

    category: str
    message: str
    detail: str | None = None  # the traceback of an unexpected failure, logged by the poller


def prepare(job: ParseJob) -> Prepared | Failed:
    """Parse ``job``'s body and prepare its entries; never raises (runs in a worker process)."""
    try:
        feed = parse_feed(job.body, job.headers, job.url, now=job.now, max_entries=job.max_entries)
        return Prepared(FeedHead.of(feed), prepare_entries(feed, job.source, job.aliases))
    except ParseError as exc:
        return Failed(exc.category, exc.message)
    except Exception as exc:
        return Failed("parse", f"unexpected {type(exc).__name__}: {exc}", traceback.format_exc())


def pool_size(configured: int | None) -> int:
    """Worker processes: the configured number, else ``AGGREGATOR_PARSE_WORKERS``, else one per CPU."""
    if configured is not None:
        return configured
    env = os.environ.get(WORKERS_ENV, "").strip()
    if env.isdigit():
        return int(env)
    return os.cpu_count() or 1


def start_method() -> str:
    import multiprocessing

    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _worker_init(poller: int) -> None:
    """Workers leave SIGINT and SIGTERM to the poller, which stops the pool itself, and end
    when the poller does: a poller killed with SIGKILL leaves no worker parsing on, holding
    its output open, or keeping the forkserver alive (which lives while any worker does)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(poller,), name="exit-with-poller", daemon=True).start()


def _exit_with(pid: int) -> None:
    """Block until process ``pid`` ends (a pidfd where there is one, else a check a second), then exit."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    if pidfd is not None:
        select.select([pidfd], [], [])
    else:
        while _alive(pid):
            time.sleep(1.0)
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ParsePool:
    """A process pool for ``prepare``, replaced when a worker dies; started on first use."""

    def __init__(self, workers: int, task: Callable[[ParseJob], Prepared | Failed] = prepare) -> None:
        self.workers = workers
        self.task = task  # what each worker runs: ``prepare`` (a module-level function, sent by name)
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:  # imported here: a poll that parses nothing never loads them
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                method = start_method()
                context = multiprocessing.get_context(method)
                if method == "forkserver":
                    context.set_forkserver_preload([__name__])
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=context,
                    initializer=_worker_init,
                    initargs=(os.getpid(),),
                )
            return self._executor

    def _discard(self, broken: Executor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    async def run(self, job: ParseJob) -> Prepared | Failed:
        """``prepare(job)`` in a worker; whatever it raises, and a dead worker (the whole pool
        breaks: every job in flight fails), is a ``Failed``; the next job gets a fresh pool."""
        executor = self._current()
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, self.task, job)
        except BrokenExecutor as exc:  # BrokenProcessPool: a worker died, the pool is unusable
            self._discard(executor)
            log.error("a feed parser process died while parsing %s: %s", job.url, exc)
            return Failed("parse", "the feed parser process died (out of memory or killed?)")
        except Exception as exc:  # e.g. a result that cannot be pickled: a bug, recorded on the source
            log.exception("unexpected error from the parser pool for %s", job.url)
            return Failed("parse", f"unexpected {type(exc).__name__}: {exc}")

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
