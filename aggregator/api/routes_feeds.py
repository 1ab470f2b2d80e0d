"""The feed routes: ``/feeds/all``, ``/feeds/tag/{tag}``, ``/feeds/site/{host}``
and ``/feeds/{slug}`` (named outputs), each in every format, and the feed
response itself: the slice selected and rendered through the slice cache
(standard elements only, or with the aggregator's extensions on ``?ext=1``), with
ETag, Last-Modified and 304, the self URL as the client sent it, and a feed id
stable per URL, the ``Link`` header naming the WebSub hub and the feed itself, and
the feed-level links: ``next`` to the next older page (``aggregator.paging``) and, on a
named output's own feed, ``prev-archive`` (``archives``). Which feed a URL names, and
how it renders, belongs to ``topics``; HEAD to ``head``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from urllib.parse import quote_from_bytes

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ..feedcache import Rendered, http_date, is_not_modified
from ..store.slices import select_slice
from ..topics import ALL, feed_view
from ..views import PRIVATE, PUBLIC, Audience, FeedLink, ItemView
from .archives import ArchiveLinks, subscription_links
from .deps import Settings, SettingsDep, read_connection
from .schemas import FILTER_ERRORS, FILTER_PARAMETER
from .slices import Slice, output_slice, query_params, site_slice, tag_slice
from .tokens import TOKEN_PARAM, require_token, unknown_feed

FEED_MAX_AGE = 300
CACHE_CONTROL = f"public, max-age={FEED_MAX_AGE}"
PRIVATE_CACHE_CONTROL = "private, no-cache"

router = APIRouter()


@router.get("/feeds/all.{ext}", responses=FILTER_ERRORS, openapi_extra=FILTER_PARAMETER, summary="Every item")
async def feed_all(ext: str, request: Request, s: SettingsDep) -> Response:
    return await feed_response(s, request, ext, ALL)


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
    "/feeds/{slug}.{ext}",
    responses=FILTER_ERRORS,
    openapi_extra=FILTER_PARAMETER,
    summary="A named output (a private one needs its token)",
)
async def feed_named(slug: str, ext: str, request: Request, s: SettingsDep) -> Response:
    output = s.outputs.get(slug)
    if output is not None and not output.private:
        sl = output_slice(s, output)
        archives = subscription_links(s, request, output, sl.route, ext)
        return await feed_response(s, request, ext, sl, archives)
    # An unknown slug's token is looked up too: it is refused as slowly as a private output's.
    await require_token(s, request, slug)
    if output is None:
        raise unknown_feed(slug)
    return await feed_response(s, request, ext, output_slice(s, output), audience=PRIVATE)


async def feed_response(
    s: Settings,
    request: Request,
    ext: str,
    sl: Slice,
    archives: ArchiveLinks | None = None,
    *,
    audience: Audience = PUBLIC,
) -> Response:
    """A feed, or a page of it; cached and unchanged, it is answered on the event loop with no database work.

    The page holds ``limit`` items; one more is read, and when it exists the page links ``next``
    (so that item counts in the ETag too). Links read from the database count in it as well.
    A private answer (``audience``) is never left to the fast path, which answers by URL
    alone; its slice cache key is marked private and is reached only after the token passed.
    """
    params = query_params(request)
    if audience.private:
        params.pop(TOKEN_PARAM, None)
    view = feed_view(
        s.config,
        ext,
        sl,
        params,
        self_url=request_url(request),
        base_url=str(request.base_url),
        now=s.clock(),
        private=audience.private,
    )
    key = view.cache_key + (f" {archives.key}" if archives else "")
    version = s.versions.fresh()
    if version is None:
        version = await run_in_threadpool(s.versions.read)
    entry = s.cache.peek(key, version)
    if entry is None:

        def load(more: tuple[FeedLink, ...]) -> tuple[str, Sequence[ItemView]]:
            with read_connection(s) as conn:
                found = select_slice(conn, view.page_filter, after=view.cursor, audience=audience)
                return view.etag_title(more), found

        def build() -> Rendered:
            more: tuple[FeedLink, ...] = ()
            if archives is not None:
                with read_connection(s) as conn:
                    more = archives.read(conn)
            return s.cache.get(key, version, partial(load, more), partial(view.render, more=more), ext)

        entry = await run_in_threadpool(build)
    if audience.private:
        return feed_answer(s, request, entry, view.media_type, PRIVATE_CACHE_CONTROL, None, replay=False)
    return feed_answer(s, request, entry, view.media_type, CACHE_CONTROL, view.link_header)


def feed_answer(
    s: Settings,
    request: Request,
    entry: Rendered,
    media_type: str,
    cache_control: str,
    link: str | None,
    *,
    replay: bool = True,
) -> Response:
    """The response for a rendered feed: validators, 304 to a matching conditional request, and
    recorded for the fast path unless it must not be ``replay``ed by URL alone (a private feed)."""
    headers = {
        "ETag": entry.etag,
        "Last-Modified": http_date(entry.last_modified),
        "Cache-Control": cache_control,
        "X-Content-Type-Options": "nosniff",
    }
    if link:
        headers["Link"] = link
    if replay:
        s.answers.record(request.scope, entry, headers, media_type)
    if is_not_modified(request.headers.get("if-none-match"), request.headers.get("if-modified-since"), entry):
        return Response(status_code=304, headers=headers)
    return Response(entry.body, media_type=media_type, headers=headers)


def request_url(request: Request) -> str:
    """The URL as the client sent it: the path keeps its percent-encoding (``%E6%A9%9F``, ``%20``)."""
    raw = request.scope.get("raw_path")
    if not isinstance(raw, bytes):
        return str(request.url)
    return str(request.url.replace(path=quote_from_bytes(raw, safe="/%:@!$&'()*+,;=-._~")))
