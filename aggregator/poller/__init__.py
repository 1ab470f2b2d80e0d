"""Glue between fetch, parse, ingest and store: ``source`` polls one source end
to end (fetch or NotModified, body hash check, parse, one write transaction,
failures recorded on the source with a category), ``run`` holds ``Poller``: a
run over the due sources under the run lock and the daemon loop, and ``report``
holds what they hand back. Parsing and writing happen on one worker thread, so
the event loop keeps fetching while a large feed is parsed and SQLite sees a
single writer; a failing source never stops the run.
"""

from ..clock import Clock, utcnow
from .report import RunReport, SourceOutcome
from .run import LOCK_NAME, LOCK_TTL, Poller, is_dead_local_owner, lock_owner
from .source import SourcePoller

__all__ = [
    "LOCK_NAME",
    "LOCK_TTL",
    "Clock",
    "Poller",
    "RunReport",
    "SourceOutcome",
    "SourcePoller",
    "is_dead_local_owner",
    "lock_owner",
    "utcnow",
]
