"""Pure: the checks of one filter value as a user types it (a host, a date or an age, a whole
number, a source reference), shared by the query parameters and the ``filter=`` language."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from .durations import parse_duration
from .errors import QueryError
from .identity import normalize_host

_HOST = re.compile(r"^[a-z0-9\u00a0-\uffff]([a-z0-9\u00a0-\uffff.-]*[a-z0-9\u00a0-\uffff])?(:[0-9]{1,5})?$")


def parse_site(value: str, param: str = "site") -> str:
    """A host name as a user types it, normalized.

    Raises:
        QueryError: not a host name.
    """
    host = normalize_host(value)
    if host.startswith("www."):
        host = host[4:]
    if not host or not _HOST.match(host) or ".." in host:
        raise QueryError(param, f"not a host name: {value[:60]!r}")
    return host


def parse_when(param: str, value: str | None, now: datetime) -> datetime | None:
    """An ISO date or datetime, or an age such as ``7d`` / ``12h`` / ``30m`` / ``2w``.

    Raises:
        QueryError: none of those forms.
    """
    if value is None or value == "":
        return None
    text = value.strip()
    if (age := age_seconds(text)) is not None:
        try:
            return now - timedelta(seconds=age)
        except OverflowError as exc:
            raise QueryError(param, "age too large") from exc
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise QueryError(
            param,
            f"expected a date (2024-05-01), a datetime (2024-05-01T12:00:00Z) or an age (7d), got {text!r}",
        ) from exc
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError as exc:
        raise QueryError(param, f"out of range in UTC: {text!r}") from exc


def age_seconds(text: str) -> float | None:
    try:
        return parse_duration(text, unit_required=True)
    except ValueError:
        return None


def parse_int(param: str, value: str | None, low: int, high: int) -> int | None:
    if value is None:
        return None
    text = value.strip()
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise QueryError(param, f"expected a whole number from {low} to {high}, got {text[:40]!r}")
    number = int(text)
    if not low <= number <= high:
        raise QueryError(param, f"expected a whole number from {low} to {high}, got {number}")
    return number


def parse_source(value: str) -> str:
    text = value.strip()
    if re.fullmatch(r"[0-9]{1,12}", text) or re.match(r"^https?://\S+$", text):
        return text
    raise QueryError("source", "expected a source id (see /api/sources) or its http(s) URL")
