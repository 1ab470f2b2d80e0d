"""Reading a ``Retry-After`` header: delay-seconds or an HTTP-date, clamped to a cap.

Pure: the value and ``now`` in, seconds out. Deciding what to do with the
delay (back-off, scheduling) belongs to the caller, not here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_RETRY_SECONDS = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def _clamp(seconds: float, cap: float) -> float:
    return min(max(seconds, 0.0), cap)


def parse_retry_after(value: str | None, now: datetime, cap: float) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or HTTP-date).

    Garbage gives None; a negative delay or a date in the past gives 0; a
    longer delay gives ``cap``. A naive ``now`` is taken as UTC.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _RETRY_SECONDS.fullmatch(text):
        return _clamp(float(text), cap)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return _clamp((when - now).total_seconds(), cap)
