"""What polling hands back: ``SourceOutcome`` for one source, for the CLI line,
and ``RunReport`` for a run, with its summary line. Plain data; polling,
storage and scheduling do not belong here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Category
from ..store import locks
from ..views import FAILED, PollStatus


@dataclass(frozen=True)
class SourceOutcome:
    """How one source's poll went, for the CLI line and the run summary."""

    source_id: int
    url: str
    label: str
    status: PollStatus
    new: int = 0
    updated: int = 0
    category: Category | None = None  # why it failed
    message: str | None = None
    elapsed: float = 0.0
    http_status: int | None = None  # the server's answer, when there was one
    fetch_elapsed: float | None = None  # seconds the fetch took (redirects included), when it answered

    @property
    def failed(self) -> bool:
        """True when this poll failed (an error or 410 Gone)."""
        return self.status in FAILED

    def line(self) -> str:
        """The poll command's line for this source: what happened, and how long it took."""
        if self.failed:
            detail = f"{self.status} [{self.category}] {self.message}"
        elif self.status in ("new", "updated"):
            detail = f"{self.status}: {self.new} new, {self.updated} updated"
        else:
            detail = self.status.replace("_", " ")
        if not self.failed and self.message:
            detail += f"; {self.message}"
        return f"{self.label}: {detail} ({self.elapsed * 1000:.0f} ms)"


@dataclass
class RunReport:
    outcomes: list[SourceOutcome] = field(default_factory=list)
    locked_by: locks.Holder | None = None
    elapsed: float = 0.0

    def count(self, status: PollStatus) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> int:
        """Sources whose poll failed in this run (errors and 410 Gone)."""
        return sum(self.count(status) for status in FAILED)

    def summary(self) -> str:
        if self.locked_by:
            return (
                f"another poll is running ({self.locked_by.owner}); nothing done: an SQLite database "
                "has one poller at a time (several pollers share the sources on PostgreSQL)"
            )
        new = sum(o.new for o in self.outcomes)
        updated = sum(o.updated for o in self.outcomes)
        return (
            f"{len(self.outcomes)} sources polled in {self.elapsed:.2f}s: "
            f"{new} new items, {updated} updated; "
            f"{self.count('not_modified')} not modified, {self.count('unchanged')} unchanged, "
            f"{self.failed} failed"
        )
