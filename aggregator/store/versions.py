"""The data version as a server sees it, without a database round trip per request.

Every write that changes what a reader sees bumps ``meta.data_version`` in its
transaction (``common.bump_data_version``). A feed request needs that number
to know whether its cached rendering still holds, and asking the database for
it on every request would cost more than the rest of a cached answer.

``DataVersions.fresh()`` answers without I/O while the number is known to hold:

- On SQLite it keeps one connection of its own and asks ``PRAGMA data_version``,
  which SQLite answers from shared memory and changes exactly when another
  connection has committed (https://sqlite.org/pragma.html#pragma_data_version).
  Only then is ``meta`` read again. Nothing is ever stale.
- On other databases (PostgreSQL) the number is re-read at most every
  ``interval`` seconds, so a request may see a write that late; every server
  process still moves to the same version, because the number comes from the
  database and not from the process.

``read()`` does the round trip; callers run it off the event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from .common import connect, read_data_version, wrap_storage_errors

Monotonic = Callable[[], float]


class DataVersions:
    def __init__(
        self, engine: Engine, interval: float = 1.0, *, monotonic: Monotonic = time.monotonic
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._value: int | None = None
        self._read_at = 0.0
        self._sqlite: Any = None  # the probe's own DB-API connection (SQLite only)
        self._sqlite_mark: int | None = None

    def fresh(self) -> int | None:
        """The data version if it is known to hold now, else ``None`` (call ``read``)."""
        value = self._value
        if value is None:
            return None
        if self.engine.dialect.name == "sqlite":
            with self._lock:
                return value if self._pragma() == self._sqlite_mark else None
        return value if self.monotonic() - self._read_at < self.interval else None

    @wrap_storage_errors()
    def read(self) -> int:
        """Read the data version from the database and remember it."""
        with self._lock:
            mark = self._pragma() if self.engine.dialect.name == "sqlite" else None
            with connect(self.engine) as conn:
                value = read_data_version(conn)
            self._value, self._read_at, self._sqlite_mark = value, self.monotonic(), mark
            return value

    def close(self) -> None:
        with self._lock:
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None

    def _pragma(self) -> int:
        # Taken before ``meta`` is read: a commit in between moves the mark, and the next
        # ``fresh`` re-reads rather than keep a number older than the mark says.
        if self._sqlite is None:
            raw = self.engine.raw_connection()
            raw.detach()  # the probe's own connection, never handed back to the pool
            self._sqlite = raw
        cursor = self._sqlite.cursor()
        try:
            cursor.execute("PRAGMA data_version")
            return int(cursor.fetchone()[0])
        finally:
            cursor.close()
