"""From a route to the slice it serves: ``Slice`` (the route's implied filter
and the words that title it), the checks on a tag or host taken from the path,
the slices of the tag, site and named-output routes, ``resolve``, which
merges the route's filter with the query's, and ``parse_switch`` for an on/off
parameter such as a feed's ``ext``. Rendering and responses belong to
the route modules.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from ..config import OutputConfig
from ..errors import QueryError
from ..filters import PARAMS, Filter, parse_filter, parse_site
from ..identity import display_host, normalize_tag
from ..paths import tag_path
from .deps import Settings

MAX_PATH_VALUE = 200


@dataclass(frozen=True)
class Slice:
    """A route's implied filter and the words that title it."""

    route: Filter
    title: str
    description: str
    base: str  # path without extension, e.g. /feeds/tag/kubernetes
    html: str  # the matching HTML listing


def tag_slice(s: Settings, raw: str) -> Slice:
    name = normalize_tag(_check_path_value("tag", raw), s.config.aliases)
    if not name:
        raise QueryError("tag", "empty tag")
    base = f"/feeds/tag/{tag_path(name)}"
    return Slice(
        Filter(tags=(name,)),
        f"Tagged “{name}”",
        f"Every item tagged {name}",
        base,
        f"/tag/{tag_path(name)}",
    )


def site_slice(raw: str) -> Slice:
    host = parse_site(_check_path_value("host", raw), "host")
    return Slice(
        Filter(sites=(host,)),
        f"On {display_host(host)}",
        f"Every item on {display_host(host)} and its subdomains",
        f"/feeds/site/{host}",
        f"/site/{host}",
    )


def output_slice(s: Settings, output: OutputConfig) -> Slice:
    route = parse_filter(output.filters, aliases=s.config.aliases, now=s.clock())
    return Slice(route, output.title, output.description or route.describe(), f"/feeds/{output.slug}", "/")


def query_params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if len(params) > len(PARAMS) + 2:  # and a feed's ``ext`` and ``before``
        raise QueryError("query", "too many parameters")
    return params


def parse_switch(name: str, values: list[str] | None) -> bool:
    """An on/off query parameter: absent or ``0`` is off, ``1`` is on.

    Raises:
        QueryError: any other value, or the parameter given twice.
    """
    if not values:
        return False
    if len(values) > 1 or values[0] not in ("0", "1"):
        raise QueryError(name, "must be 0 or 1, given once")
    return values[0] == "1"


def resolve(
    s: Settings, request: Request, sl: Slice, params: dict[str, list[str]] | None = None
) -> tuple[Filter, str]:
    """The route's filter merged with the query's, and the title of the result.

    ``params`` are the query's filter parameters when the route took its own options
    out of them first (a feed's ``ext``); by default, the whole query.
    """
    filters = query_params(request) if params is None else params
    query = parse_filter(filters, aliases=s.config.aliases, now=s.clock())
    narrowed = query.with_limit(sl.route.limit).describe()
    title = sl.title if narrowed == Filter().describe() else f"{sl.title}, {narrowed}"
    return sl.route.merge(query), title


def _check_path_value(name: str, value: str) -> str:
    if not value or len(value) > MAX_PATH_VALUE:
        raise QueryError(name, f"must be 1 to {MAX_PATH_VALUE} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value) or ".." in value or "/" in value or "\\" in value:
        raise QueryError(name, "contains characters not allowed in a path segment")
    return value
