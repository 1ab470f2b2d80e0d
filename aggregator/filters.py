"""Pure: one filter model shared by query parameters, named outputs and the CLI.

``parse_filter`` turns raw parameters (strings, as a URL or a TOML table gives
them) into a validated, normalized, frozen ``Filter``; ``Filter.merge`` combines
a route's implied filter with the query's. Storage turns a ``Filter`` into SQL;
nothing here touches a database. The checks of single values (hosts, dates, counts,
sources) are ``filtervalues``'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal
from urllib.parse import urlencode

from .errors import QueryError
from .filtervalues import parse_int, parse_site, parse_source, parse_when
from .identity import normalize_tag
from .query import Checks, Expr, check_values, conjoin, parse_query
from .query import canonical as canonical_query
from .query import describe as describe_query
from .sorts import DEFAULT_WINDOW, Sort, parse_sort, parse_window, window_text

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "PARAMS",
    "VOCABULARY",
    "Filter",
    "FilterParam",
    "parse_filter",
    "parse_site",
    "parse_when",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_VALUES = 20


@dataclass(frozen=True)
class FilterParam:
    """One filter parameter, as a URL query, a ``[[outputs]]`` key and an ``items`` flag spell it."""

    name: str
    repeatable: bool
    kind: Literal["tag", "source", "host", "text", "when", "count", "order", "duration", "query"]
    help: str
    max_length: int = 64


VOCABULARY = (
    FilterParam("tag", True, "tag", "items with every one of these tags", 100),
    FilterParam("any_tag", True, "tag", "items with at least one of these tags", 100),
    FilterParam("not_tag", True, "tag", "items with none of these tags", 100),
    FilterParam("source", True, "source", "items from any of these sources (id or feed URL)", 2048),
    FilterParam("site", False, "host", "items linking to this host or its subdomains", 253),
    FilterParam("q", False, "text", "items whose title or text contains these words", 200),
    FilterParam("since", False, "when", "items published since a date, a datetime or an age (7d)"),
    FilterParam("until", False, "when", "items published until a date, a datetime or an age (7d)"),
    FilterParam("min_bookmarks", False, "count", "items bookmarked by at least this many users"),
    FilterParam("filter", False, "query", "items matching a query (tag:k8s -tag:helm bookmarks:>=100)", 2048),
    FilterParam(
        "limit", False, "count", f"at most this many items (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})"
    ),
    FilterParam(
        "sort",
        False,
        "order",
        "recent (newest first), popular (most bookmarked) or rising (most new bookmarks)",
    ),
    FilterParam(
        "window", False, "duration", "for sort=rising: growth over this last period (default 24h, 1h to 30d)"
    ),
)
PARAMS = tuple(p.name for p in VOCABULARY)
REPEATABLE = tuple(p.name for p in VOCABULARY if p.repeatable)
SINGLE = tuple(p.name for p in VOCABULARY if not p.repeatable)
MAX_LENGTHS = {p.name: p.max_length for p in VOCABULARY}


@dataclass(frozen=True)
class Filter:
    """A slice of the items. Every field narrows the slice (AND), except inside ``any_tags``/``sources``."""

    tags: tuple[str, ...] = ()
    any_tags: tuple[str, ...] = ()
    not_tags: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # ids (digits) or URLs; any of them
    q: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_bookmarks: int | None = None
    expr: Expr | None = None  # a ``filter`` query, ANDed with the fields
    limit: int = DEFAULT_LIMIT
    sort: Sort = "recent"  # the order, not a narrowing: popular and rising list only items with counts
    window: int = DEFAULT_WINDOW  # seconds, for sort=rising
    as_of: datetime | None = field(default=None, compare=False)  # the time rising counts back from
    explicit: frozenset[str] = field(default=frozenset(), compare=False)

    def merge(self, other: Filter) -> Filter:
        """Both filters at once: the route's and the query's."""
        return Filter(
            tags=_union(self.tags, other.tags),
            any_tags=_union(self.any_tags, other.any_tags),
            not_tags=_union(self.not_tags, other.not_tags),
            sites=_union(self.sites, other.sites),
            sources=_union(self.sources, other.sources),
            q=other.q or self.q,
            since=_latest(self.since, other.since),
            until=_earliest(self.until, other.until),
            min_bookmarks=max(self.min_bookmarks or 0, other.min_bookmarks or 0) or None,
            expr=conjoin(self.expr, other.expr),
            limit=other.limit if "limit" in other.explicit else self.limit,
            sort=other.sort if "sort" in other.explicit else self.sort,
            window=other.window if "window" in other.explicit else self.window,
            as_of=other.as_of or self.as_of,
            explicit=self.explicit | other.explicit,
        )

    def with_limit(self, limit: int) -> Filter:
        return replace(self, limit=limit)

    def is_empty_slice(self) -> bool:
        """True when the filter can match nothing (a tag both required and excluded)."""
        return bool(set(self.tags) & set(self.not_tags)) or bool(
            self.any_tags and set(self.any_tags) <= set(self.not_tags)
        )

    def canonical(self) -> str:
        """A stable string naming the slice (sorted parameters), for cache keys and feed ids."""
        pairs: list[tuple[str, str]] = []
        for name, values in (
            ("tag", self.tags),
            ("any_tag", self.any_tags),
            ("not_tag", self.not_tags),
            ("site", self.sites),
            ("source", self.sources),
        ):
            pairs.extend((name, v) for v in sorted(values))
        for name, value in (
            ("q", self.q),
            ("since", _iso(self.since)),
            ("until", _iso(self.until)),
            ("min_bookmarks", self.min_bookmarks),
            ("filter", canonical_query(self.expr) if self.expr else None),
            ("limit", self.limit),
            ("sort", self.sort if self.sort != "recent" else None),
            ("window", window_text(self.window) if self.sort == "rising" else None),
        ):
            if value is not None:
                pairs.append((name, str(value)))
        return urlencode(pairs)

    def describe(self) -> str:
        """Human words for the slice, used in feed titles."""
        parts = []
        if self.tags:
            parts.append("tagged " + " and ".join(self.tags))
        if self.any_tags:
            parts.append("tagged " + " or ".join(self.any_tags))
        if self.not_tags:
            parts.append("not " + ", not ".join(self.not_tags))
        if self.sites:
            parts.append("on " + ", ".join(self.sites))
        if self.sources:
            parts.append("from source " + ", ".join(self.sources))
        if self.q:
            parts.append(f"matching “{self.q}”")
        if self.min_bookmarks:
            parts.append(f"{self.min_bookmarks}+ bookmarks")
        if self.since:
            parts.append(f"since {self.since:%Y-%m-%d %H:%M}")
        if self.until:
            parts.append(f"until {self.until:%Y-%m-%d %H:%M}")
        if self.sort == "popular":
            parts.append("most bookmarked first")
        if self.sort == "rising":
            parts.append(f"rising in {window_text(self.window)}")
        if self.expr:
            parts.append(f"filtered by “{describe_query(self.expr)}”")
        return ", ".join(parts) or "everything"


def parse_filter(
    params: Mapping[str, str | int | Iterable[str | int]],
    *,
    aliases: Mapping[str, str] | None = None,
    now: datetime,
    allowed: Iterable[str] = PARAMS,
) -> Filter:
    """Validate raw parameters into a ``Filter``.

    Raises:
        QueryError: an unknown parameter, a bad value, or too many or too long values.
    """
    allowed_set = set(allowed)
    values: dict[str, list[str]] = {}
    for name, raw in params.items():
        if name not in allowed_set:
            raise QueryError(name, f"unknown parameter (allowed: {', '.join(sorted(allowed_set))})")
        items = [raw] if isinstance(raw, str | int) else list(raw)
        values[name] = [_check_length(name, str(v)) for v in items]
        if len(values[name]) > MAX_VALUES:
            raise QueryError(name, f"at most {MAX_VALUES} values")
        if name in SINGLE and len(values[name]) > 1:
            raise QueryError(name, "may be given only once")

    def tags(name: str) -> tuple[str, ...]:
        result = []
        for value in values.get(name, []):
            tag = normalize_tag(value, aliases)
            if not tag:
                raise QueryError(name, "empty tag")
            result.append(tag)
        return tuple(dict.fromkeys(result))

    def single(name: str) -> str | None:
        found = values.get(name)
        return found[0] if found else None

    site = single("site")
    q = single("q")
    return Filter(
        tags=tags("tag"),
        any_tags=tags("any_tag"),
        not_tags=tags("not_tag"),
        sites=(parse_site(site),) if site is not None else (),
        sources=tuple(dict.fromkeys(parse_source(v) for v in values.get("source", []))),
        q=q.strip() or None if q is not None else None,
        since=parse_when("since", single("since"), now),
        until=parse_when("until", single("until"), now),
        min_bookmarks=parse_int("min_bookmarks", single("min_bookmarks"), 0, 10_000_000),
        expr=_parse_expr(single("filter"), aliases, now),
        limit=parse_int("limit", single("limit"), 1, MAX_LIMIT) or DEFAULT_LIMIT,
        sort=parse_sort(single("sort")),
        window=parse_window(single("window")),
        as_of=now,
        explicit=frozenset(values),
    )


def _parse_expr(query: str | None, aliases: Mapping[str, str] | None, now: datetime) -> Expr | None:
    """A ``filter`` query, its values checked as the parameters of the same meaning are."""
    expr = parse_query(query) if query is not None else None
    if expr is None or query is None:
        return None

    def tag(value: str) -> str:
        if not (name := normalize_tag(value, aliases)):
            raise QueryError("tag", "empty tag")
        return name

    def when(value: str) -> datetime:
        return parse_when("date", value, now) or now

    count = lambda value: parse_int("bookmarks", value, 0, 10_000_000) or 0  # noqa: E731
    return check_values(expr, Checks(tag, parse_site, parse_source, count, when), query)


def _check_length(name: str, value: str) -> str:
    limit = MAX_LENGTHS[name]
    if len(value) > limit:
        raise QueryError(name, f"longer than {limit} characters")
    if "\x00" in value:
        raise QueryError(name, "contains a NUL character")
    return value


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(a + b))


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(x for x in (a, b) if x) if (a or b) else None


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(x for x in (a, b) if x) if (a or b) else None


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None
