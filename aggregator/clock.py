"""The one clock type and the real clock: a ``Clock`` is called to read the time.

Everything that reads the time takes a ``Clock`` (or a ``now``) from its caller;
only the edges (the CLI, the server, the poller's defaults) hand in ``utcnow``.
Nothing else belongs here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)
