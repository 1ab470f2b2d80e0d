"""The feed routes: ``/feeds/all``, ``/feeds/tag/{tag}``, ``/feeds/site/{host}``
and ``/feeds/{slug}`` (named outputs), each in every format, and the feed
response itself: the slice selected and rendered through the slice cache
(standard elements only, or with the aggregator's extensions on ``?ext=1``), with
ETag, Last-Modified and 304, the self URL as the client sent it, and a feed id
stable per URL. Which filter a route implies belongs to ``slices``; HEAD to
``head``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from urllib.parse import quote_from_bytes, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ..errors import NotFoundError
from ..feedcache import http_date, is_not_modified, newest_update
from ..filters import Filter
from ..render import FORMATS, MEDIA_TYPES, render_feed
from ..store.slices import select_slice
from ..views import FeedMeta, ItemView
from .deps import Settings, SettingsDep, read_connection
from .schemas import FILTER_ERRORS, FILTER_PARAMETER
from .slices import Slice, output_slice, parse_switch, query_params, resolve, site_slice, tag_slice

FEED_MAX_AGE = 300
CACHE_CONTROL = f"public, max-age={FEED_MAX_AGE}"

router = APIRouter()


@router.get("/feeds/all.{ext}", responses=FILTER_ERRORS, openapi_extra=FILTER_PARAMETER, summary="Every item")
async def feed_all(ext: str, request: Request, s: SettingsDep) -> Response:
    return await feed_response(
        s, request, ext, Slice(Filter(), "Everything", "Every item, newest first", "/feeds/all", "/")
    )


@router.get(
    "/feeds/tag/{tag}.{ext}",
    responses=FILTER_ERRORS,
    openapi_extra=FILTER_PARAMETER,
    summary="Items with a tag",
)
async def feed_tag(tag: str, ext: str, request: Request, s: SettingsDep) -> Response:
    return await feed_response(s, request, ext, tag_slice(s, tag))


@router.get(
    "/feeds/site/{host}.{ext}",
    responses=FILTER_ERRORS,
    openapi_extra=FILTER_PARAMETER,
    summary="Items on a host or its subdomains",
)
async def feed_site(host: str, ext: str, request: Request, s: SettingsDep) -> Response:
    return await feed_response(s, request, ext, site_slice(host))


@router.get(
    "/feeds/{slug}.{ext}", responses=FILTER_ERRORS, openapi_extra=FILTER_PARAMETER, summary="A named output"
)
async def feed_named(slug: str, ext: str, request: Request, s: SettingsDep) -> Response:
    output = s.outputs.get(slug)
    if output is None:
        raise NotFoundError(f"no feed named {slug[:60]!r}")
    return await feed_response(s, request, ext, output_slice(s, output))


async def feed_response(s: Settings, request: Request, ext: str, sl: Slice) -> Response:
    """A feed; cached and unchanged, it is answered on the event loop with no database work."""
    if ext not in FORMATS:
        raise NotFoundError(f"unknown feed format {ext[:20]!r}: use .atom, .rss or .json")
    params = query_params(request)
    extensions = parse_switch("ext", params.pop("ext", None))
    flt, heading = resolve(s, request, sl, params)
    self_url = request_url(request)
    key = f"{ext} {sl.base} {flt.canonical()} ext={int(extensions)} {self_url}"
    version = s.versions.fresh()
    if version is None:
        version = await run_in_threadpool(s.versions.read)
    entry = s.cache.peek(key, version)
    if entry is None:
        title = f"{heading} — aggregator"
        make_meta = partial(
            FeedMeta,
            title=title,
            subtitle=sl.description,
            self_url=self_url,
            html_url=str(request.base_url).rstrip("/") + sl.html,
            feed_id=feed_id(ext, sl, flt, request),
        )

        def load() -> tuple[str, Sequence[ItemView]]:
            with read_connection(s) as conn:
                return title, select_slice(conn, flt)

        def render(items: Sequence[ItemView]) -> bytes:
            meta = make_meta(updated=newest_update(items))
            return render_feed(ext, meta, items, extensions=extensions)

        entry = await run_in_threadpool(s.cache.get, key, version, load, render, ext)
    headers = {
        "ETag": entry.etag,
        "Last-Modified": http_date(entry.last_modified),
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
    }
    s.answers.record(request.scope, entry, headers, MEDIA_TYPES[ext])
    if is_not_modified(request.headers.get("if-none-match"), request.headers.get("if-modified-since"), entry):
        return Response(status_code=304, headers=headers)
    return Response(entry.body, media_type=MEDIA_TYPES[ext], headers=headers)


def request_url(request: Request) -> str:
    """The URL as the client sent it: the path keeps its percent-encoding (``%E6%A9%9F``, ``%20``)."""
    raw = request.scope.get("raw_path")
    if not isinstance(raw, bytes):
        return str(request.url)
    return str(request.url.replace(path=quote_from_bytes(raw, safe="/%:@!$&'()*+,;=-._~")))


def feed_id(ext: str, sl: Slice, flt: Filter, request: Request) -> str:
    """Stable per URL: a relative window such as ``since=7d`` or ``filter=date:7d`` is named as written,
    not as resolved now."""
    written = ("since", "until", "filter")
    window = urlencode([(k, v) for k, v in request.query_params.multi_items() if k in written])
    named = f"{ext} {sl.base} {replace(flt, since=None, until=None, expr=None).canonical()} {window}"
    return "urn:aggregator:feed:" + hashlib.sha256(named.encode()).hexdigest()[:32]
