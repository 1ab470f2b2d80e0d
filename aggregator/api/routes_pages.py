"""The HTML routes: the index ``/``, the listings ``/tag/{tag}`` and
``/site/{host}`` (filtered like their feeds) and the stylesheet, and
``html_response``, which sends every page, error pages included, with a strict
Content-Security-Policy. The markup itself belongs to ``aggregator.pages``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from .. import pages
from ..store.slices import item_count, select_slice, source_rows, tag_counts
from .deps import Settings, SettingsDep, read_connection
from .responses import html_response
from .slices import Slice, resolve, site_slice, tag_slice

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index(s: SettingsDep) -> Response:
    with read_connection(s) as conn:
        html = pages.render_index(
            s.public_outputs, tag_counts(conn), source_rows(conn), item_count(conn), s.zone
        )
    return html_response(html)


@router.get("/tag/{tag}", response_class=HTMLResponse, include_in_schema=False)
def tag_page(tag: str, request: Request, s: SettingsDep) -> Response:
    return _listing(s, request, tag_slice(s, tag))


@router.get("/site/{host}", response_class=HTMLResponse, include_in_schema=False)
def site_page(host: str, request: Request, s: SettingsDep) -> Response:
    return _listing(s, request, site_slice(host))


@router.get("/static/style.css", include_in_schema=False)
def style() -> Response:
    return Response(pages.STYLE, media_type="text/css", headers={"Cache-Control": "public, max-age=86400"})


def _listing(s: Settings, request: Request, sl: Slice) -> Response:
    flt, heading = resolve(s, request, sl)
    with read_connection(s) as conn:
        items = select_slice(conn, flt)
    feeds = pages.FeedLinks(sl.title, sl.base, request.url.query)
    return html_response(pages.render_listing(heading, feeds, items, s.zone))
