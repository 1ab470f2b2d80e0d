"""Pure: the orders a slice can be read in, and the window of the rising order.

* ``recent``: newest first (published, then id), the default.
* ``popular``: most bookmarked first (the item's count: the highest any source reported),
  then newest; only items with a count.
* ``rising``: most new bookmarks in the window first, then newest; only items that grew.
  Growth is the item's count now minus its count at the window's start, each the highest
  over its sources of the newest point recorded at or before that time (``store.history``).
  An item with no point at or before the start grew from 0 when it was published inside the
  window (a new entry), else from its lowest count inside the window: an older article that a
  new source brings, or that the aggregator meets for the first time, has not risen by its
  whole count.

``filters`` reads the parameters with these; the SQL is in ``store.ordering``.
"""

from __future__ import annotations

from typing import Literal

from .durations import parse_duration
from .errors import QueryError

Sort = Literal["recent", "popular", "rising"]
SORTS: tuple[Sort, ...] = ("recent", "popular", "rising")
DEFAULT_WINDOW = 86400  # seconds: rising counts the last day unless told otherwise
MIN_WINDOW, MAX_WINDOW = 3600, 30 * 86400


def parse_sort(value: str | None) -> Sort:
    """``recent`` when absent.

    Raises:
        QueryError: not one of ``SORTS``.
    """
    text = (value or "recent").strip()
    for sort in SORTS:
        if text == sort:
            return sort
    raise QueryError("sort", f"expected one of {', '.join(SORTS)}, got {text[:40]!r}")


def parse_window(value: str | None) -> int:
    """The rising window in seconds (``DEFAULT_WINDOW`` when absent), from a duration such as ``6h``.

    Raises:
        QueryError: not a duration with a unit, or outside ``MIN_WINDOW`` .. ``MAX_WINDOW``.
    """
    if value is None:
        return DEFAULT_WINDOW
    bounds = f"from {window_text(MIN_WINDOW)} to {window_text(MAX_WINDOW)}"
    try:
        seconds = parse_duration(value, unit_required=True)
    except ValueError:
        raise QueryError("window", f"expected a duration such as 6h, 24h or 7d ({bounds})") from None
    if not MIN_WINDOW <= seconds <= MAX_WINDOW:
        raise QueryError("window", f"expected a duration {bounds}, got {value.strip()[:40]!r}")
    return int(seconds)


def window_text(seconds: int) -> str:
    """A window as a user writes it: ``6h``, ``24h``, ``7d``, ``90m``."""
    if seconds % 86400 == 0 and seconds > 86400:
        return f"{seconds // 86400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
