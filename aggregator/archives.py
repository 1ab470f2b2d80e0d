"""Pure: how a named output's items are split into archive documents (RFC 5005 section 4).

An archive is one calendar month, in UTC, of the items' ``first_seen`` (the time
the aggregator first stored an item), and a month is archived only once it has
ended. The chain runs from the month before the output's oldest item to the last
month that has ended; a month with no items is an archive without entries, so
which archives exist and how they link to each other depends on the calendar
and the oldest item alone. The empty month at the start is there so that every
archive links to another one: a lone archive, with neither ``prev-archive`` nor
``next-archive``, reads as an incomplete archive (so the W3C Feed Validator warns).

Why this partition, and not another:

* ``first_seen`` is set once, when an item is first stored, and is the time it
  was stored: a new item always lands in the current month, never in a month
  that has ended, so a closed archive never gains an item by a poll. The
  ``published`` date is what a feed claims (a new source's backlog is years
  old) and would put new items into closed archives.
* Fixed calendar periods, not fixed-size blocks by (first_seen, id): an item
  can join an output long after it was stored (its bookmark count crosses the
  output's threshold, another source adds a tag). In a calendar month it
  changes that one archive, as an edit would; in counted blocks it would shift
  the boundary of every newer block and rewrite every newer archive.
* Months, not days: a reader rebuilding the history reads one document per
  month since the output's oldest item, months without items included.

The price: a month's archive holds all of that month's items, however many; and
until a month ends, its items are in the subscription document (its newest
items) and the pages its ``next`` links lead to, not yet in an archive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_KEY = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
FIRST_YEAR = 1970


@dataclass(frozen=True, order=True)
class Month:
    """One calendar month in UTC: an archive's period, named by its key (``2024-08``)."""

    year: int
    month: int

    @classmethod
    def of(cls, when: datetime) -> Month:
        """The month ``when`` falls in, in UTC (a naive time is taken as UTC)."""
        utc = when.astimezone(UTC) if when.tzinfo is not None else when
        return cls(utc.year, utc.month)

    @classmethod
    def parse(cls, key: str) -> Month | None:
        """The month a key names, or None when ``key`` is not ``YYYY-MM`` from 1970 on."""
        match = _KEY.fullmatch(key)
        if match is None or int(match[1]) < FIRST_YEAR:
            return None
        return cls(int(match[1]), int(match[2]))

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The start of the next month: items first seen before it and from ``start`` on are this month's."""
        return self.next().start

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)


@dataclass(frozen=True)
class Chain:
    """The archives of an output: every month from the one before ``oldest`` up to, not
    including, ``current``; none until a month with items has ended."""

    oldest: Month | None  # the month of the output's oldest item; None: the output has no items
    current: Month  # the month now: open, not archived

    @property
    def first(self) -> Month | None:
        """The oldest archive, without entries: the month before the oldest item's."""
        if self.oldest is None or self.oldest >= self.current:
            return None
        return self.oldest.previous()

    def has(self, month: Month) -> bool:
        """True when ``month`` is an archive of this output."""
        first = self.first
        return first is not None and first <= month < self.current

    def newest(self) -> Month | None:
        """The archive the subscription document links as ``prev-archive``, if any."""
        previous = self.current.previous()
        return previous if self.has(previous) else None

    def before(self, month: Month) -> Month | None:
        """The archive older than ``month`` (its ``prev-archive``), if any."""
        previous = month.previous()
        return previous if self.has(previous) else None

    def after(self, month: Month) -> Month | None:
        """The archive newer than ``month`` (its ``next-archive``), if any."""
        following = month.next()
        return following if self.has(following) else None
