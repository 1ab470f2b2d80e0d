"""Pure: when to poll a source next, from its interval, the server's hints and its errors.

The clock is passed in. Hints (RSS ``ttl``, ``Cache-Control: max-age``,
``Retry-After``) can only push the next poll later, never earlier than the
configured minimum, and never beyond ``max_interval``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d{1,10})\"?", re.IGNORECASE)


@dataclass(frozen=True)
class Cadence:
    interval: int  # seconds between polls of a healthy source
    min_interval: int = 300
    max_interval: int = 86400


def parse_max_age(headers: Mapping[str, str]) -> int | None:
    """Seconds from ``Cache-Control: max-age`` (or s-maxage), if present and sane."""
    value = headers.get("cache-control")
    if not value or "no-store" in value.lower():
        return None
    match = _MAX_AGE.search(value)
    return int(match.group(1)) if match else None


def next_after_success(
    cadence: Cadence, now: datetime, *, ttl_minutes: int | None = None, max_age: int | None = None
) -> datetime:
    """Next poll of a source that answered: its interval, stretched by ttl / max-age hints."""
    seconds = max(cadence.interval, cadence.min_interval)
    for hint in (ttl_minutes * 60 if ttl_minutes else None, max_age):
        if hint and hint > seconds:
            seconds = hint
    return now + timedelta(seconds=min(seconds, cadence.max_interval))


def next_after_error(
    cadence: Cadence, now: datetime, consecutive_errors: int, *, retry_after: float | None = None
) -> datetime:
    """Exponential backoff: interval × 2^(errors-1), at least Retry-After, capped at max_interval."""
    errors = max(consecutive_errors, 1)
    base = max(cadence.interval, cadence.min_interval)
    seconds = float(base) * (2 ** min(errors - 1, 16))
    if retry_after is not None and retry_after > seconds:
        seconds = retry_after
    return now + timedelta(seconds=min(seconds, cadence.max_interval))
