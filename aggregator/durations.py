"""Pure: the one duration grammar, a number and a unit: ``90s``, ``30m``, ``1.5h``, ``7d``, ``2w``.

Poll intervals in ``feeds.toml`` and ages in filters (``since=7d``) are read here.
What a duration is for (its range, what it is subtracted from) belongs to the caller.
"""

from __future__ import annotations

import math
import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*([0-9]{1,9}(?:\.[0-9]{1,9})?)\s*([smhdw]?)\s*$")
HINT = '(use e.g. 90, "30m", "2h", "1d")'


def parse_duration(value: object, *, unit_required: bool = False) -> float:
    """Seconds in a duration: a number (seconds) or a string such as ``"30m"``.

    The range is the caller's to check: a number may be negative or zero.
    ``unit_required``: a bare number is no duration (a filter's ``since=2024`` is no age).

    Raises:
        ValueError: not a duration.
    """
    if isinstance(value, int | float) and not isinstance(value, bool) and not unit_required:
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError(f"not a duration: {value!r} {HINT}")
    elif isinstance(value, str) and (m := _DURATION.match(value)) and (m.group(2) or not unit_required):
        seconds = float(m.group(1)) * UNITS[m.group(2) or "s"]
    else:
        raise ValueError(f"not a duration: {value!r} {HINT}")
    return seconds
