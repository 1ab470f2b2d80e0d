"""Several sources' writes in one transaction, each source applied wholly or not at all.

With a parser pool the writer thread only writes, and a commit per source was a quarter
of its time in a profile of the cold poll (SQLite: the WAL; PostgreSQL: the flush to
disk). ``WriteBatcher``
gathers the sources whose parse finished while the writer was busy and applies them
together, up to ``MAX_BATCH`` per transaction; a writer that keeps up still writes one
source at a time, so batching never delays a write.

The guarantee of one transaction per source is kept: when any source's write fails (a
``StorageError``: a constraint, a lost connection; or a bug), the batch's transaction is
rolled back as a whole and the batch is applied again one source per transaction, so the
failing source records its error and every other source is written as if alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection, Engine

from ..store.common import transaction
from .report import SourceOutcome

log = logging.getLogger("aggregator.poller")

T = TypeVar("T")
MAX_BATCH = 50  # sources per transaction: bounds a transaction's size and the cost of a retry


@dataclass(frozen=True)
class Write(Generic[T]):
    """One source's part of a batch: ``run`` writes it on the batch's connection; ``done``
    turns what it returned, or the exception that undid it, into the source's outcome
    (on the writer thread, after the commit)."""

    run: Callable[[Connection], T]
    done: Callable[[T | Exception], SourceOutcome]


def apply_batch(engine: Engine, runs: Sequence[Callable[[Connection], Any]]) -> list[Any]:
    """Each run's result, or the exception that undid it: all in one transaction, else (one
    failed, or the commit did) the batch again one run per transaction."""
    if not runs:
        return []
    try:
        with transaction(engine) as conn:
            return [run(conn) for run in runs]
    except Exception as exc:
        if len(runs) == 1:
            return [exc]
        log.warning("a batch of %d source writes failed (%s); writing them one at a time", len(runs), exc)
    results: list[Any] = []
    for run in runs:
        try:
            with transaction(engine) as conn:
                results.append(run(conn))
        except Exception as exc:
            results.append(exc)
    return results


@dataclass
class _Pending:
    write: Write[Any]
    future: asyncio.Future[SourceOutcome]
    loop: asyncio.AbstractEventLoop


class WriteBatcher:
    """Applies submitted writes on the writer thread, as many per transaction as are waiting."""

    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self.max_batch = max(1, max_batch)
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._scheduled = 0  # drains submitted to the writer and not yet started

    async def submit(self, engine: Engine, writer: Executor, write: Write[Any]) -> SourceOutcome:
        """``write`` applied on ``writer`` (a single thread), batched with the writes waiting."""
        loop = asyncio.get_running_loop()
        pending = _Pending(write, loop.create_future(), loop)
        with self._lock:
            self._pending.append(pending)
            schedule = self._scheduled == 0
            if schedule:
                self._scheduled += 1
        if schedule:
            writer.submit(self._drain, engine, writer)
        try:
            return await pending.future
        except asyncio.CancelledError:
            with self._lock:  # not taken yet: never written (as a cancelled executor job)
                if pending in self._pending:
                    self._pending.remove(pending)
            raise

    def _drain(self, engine: Engine, writer: Executor) -> None:
        """On the writer thread: apply one batch of what is waiting; the rest waits for the
        next drain, queued behind the writer's other work."""
        with self._lock:
            self._scheduled -= 1
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            more = bool(self._pending) and self._scheduled == 0
            if more:
                self._scheduled += 1
        if more:
            writer.submit(self._drain, engine, writer)
        results = apply_batch(engine, [p.write.run for p in batch])
        for pending, result in zip(batch, results, strict=True):
            try:
                _settle(pending, pending.write.done(result), None)
            except Exception as exc:
                _settle(pending, None, exc)


def _settle(pending: _Pending, outcome: SourceOutcome | None, error: Exception | None) -> None:
    """Hand ``outcome`` (or ``error``) to the waiting poll, unless it was cancelled meanwhile."""

    def settle() -> None:
        if pending.future.done():
            return
        if outcome is not None:
            pending.future.set_result(outcome)
        else:
            pending.future.set_exception(error or RuntimeError("no outcome"))

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        pending.loop.call_soon_threadsafe(settle)
