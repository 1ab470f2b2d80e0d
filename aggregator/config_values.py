"""Pure: the validators of ``feeds.toml`` values (durations, flags, URLs, kinds, tags,
aliases, time zones, counts), each raising ``ValueError`` with what was expected.

Which key takes which validator belongs to ``config``.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import PlainValidator

from .durations import parse_duration
from .identity import fold_aliases

KINDS = ("site", "tag", "user", "feed")
MAX_DURATION = 365 * 86400


def duration(value: object) -> int:
    seconds = parse_duration(value)
    if not 0 < seconds <= MAX_DURATION:
        raise ValueError(f"duration out of range: {value!r}")
    return int(seconds)


def optional_duration(value: object) -> int | None:
    return None if value is None else duration(value)


def flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def optional_flag(value: object) -> bool | None:
    return None if value is None else flag(value)


def positive(kind: type[int] | type[float]) -> PlainValidator:
    def check(value: object) -> int | float:
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return kind(value)
        raise ValueError(f"expected a positive number, got {value!r}")

    return PlainValidator(check)


def workers(value: object) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise ValueError(f"expected a number of processes (0 or 1: parse in the poller itself), got {value!r}")


def http_url(value: object) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value.strip()):
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    return value.strip()


def kind(value: object) -> str:
    if value not in KINDS:
        raise ValueError(f"expected one of {', '.join(KINDS)}, got {value!r}")
    return str(value)


def text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def tags(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(t, str) and t.strip() for t in value):
        raise ValueError("expected a list of non-empty strings")
    return tuple(value)


def aliases(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("every alias must map a string to a string")
    return fold_aliases(value)


def timezone(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f'expected a time zone name such as "Asia/Tokyo", got {value!r}')
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'unknown time zone {value!r} (e.g. "Asia/Tokyo", "UTC")') from None
    return value.strip()


def version_interval(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 60:
        return float(value)
    raise ValueError(f"expected seconds from 0 to 60 (0: every request), got {value!r}")
