"""Glue between fetch, parse, ingest and store: ``source`` polls one source end
to end (fetch or NotModified, body hash check, parse, one write transaction,
failures recorded on the source with a category), ``run`` holds ``Poller``: a
run that claims the due sources in batches (per-source leases, so several pollers
share them on PostgreSQL; one poller at a time under the run lock on SQLite) and
the daemon loop, and ``report``
holds what they hand back, ``parsing`` the parser processes. Bodies are parsed
in a pool of processes (``[poller] parse_workers``; 0 or 1: on the writer thread)
and written on one writer thread, so the event loop keeps fetching while feeds
are parsed on every core and SQLite sees a single writer; a failing source (or
parser process) never stops the run.
"""

from ..clock import Clock, utcnow
from .report import RunReport, SourceOutcome
from .run import LOCK_NAME, Poller, is_dead_local_owner, lock_owner
from .source import SourcePoller

__all__ = [
    "LOCK_NAME",
    "Clock",
    "Poller",
    "RunReport",
    "SourceOutcome",
    "SourcePoller",
    "is_dead_local_owner",
    "lock_owner",
    "utcnow",
]
