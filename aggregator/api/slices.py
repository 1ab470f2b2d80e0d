"""From a request to the slice it serves: the tag, site and named-output slices with
the settings' aliases and clock, the query's parameters, and ``resolve``, which merges the
route's filter with the query's. The slices themselves, and the feed a URL names, are
``aggregator.topics``; rendering and responses belong to the route modules.
"""

from __future__ import annotations

from fastapi import Request

from .. import topics
from ..config import OutputConfig
from ..filters import Filter
from ..topics import MAX_PATH_VALUE, Slice, parse_switch
from .deps import Settings

__all__ = [
    "MAX_PATH_VALUE",
    "Slice",
    "output_slice",
    "parse_switch",
    "query_params",
    "resolve",
    "site_slice",
    "tag_slice",
]


def tag_slice(s: Settings, raw: str) -> Slice:
    return topics.tag_slice(s.config, raw)


def site_slice(raw: str) -> Slice:
    return topics.site_slice(raw)


def output_slice(s: Settings, output: OutputConfig) -> Slice:
    return topics.output_slice(s.config, output, s.clock())


def query_params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    topics.check_params(params)
    return params


def resolve(
    s: Settings, request: Request, sl: Slice, params: dict[str, list[str]] | None = None
) -> tuple[Filter, str]:
    """The route's filter merged with the query's, and the title of the result.

    ``params`` are the query's filter parameters when the route took its own options
    out of them first; by default, the whole query.
    """
    filters = query_params(request) if params is None else params
    return topics.resolve(s.config, sl, filters, s.clock())
