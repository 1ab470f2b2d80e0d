"""The HTML routes: the index ``/``, the listings ``/tag/{tag}`` and
``/site/{host}`` (filtered like their feeds), an item's page ``/item/{id}`` (why
it is here) and the stylesheet. Every page goes out through ``html_response``,
with a strict Content-Security-Policy. The markup itself belongs to
``aggregator.pages``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from .. import itempage, pages
from ..errors import NotFoundError
from ..filters import parse_filter
from ..store.provenance import item_provenance
from ..store.slices import item_count, select_slice, source_rows, tag_counts
from .deps import ItemId, Settings, SettingsDep, read_connection
from .responses import html_response
from .slices import Slice, query_params, resolve, site_slice, tag_slice

router = APIRouter()
INDEX_ITEMS = 20


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index(request: Request, s: SettingsDep) -> Response:
    """The index, with the newest items (or, by ``sort`` and ``window``, the most bookmarked or rising)."""
    orders = {k: v for k, v in query_params(request).items() if k in ("sort", "window")}
    flt = parse_filter(orders, now=s.clock()).with_limit(INDEX_ITEMS)
    tabs = pages.SortTabs("/", tuple(request.query_params.multi_items()), flt.sort, flt.window)
    with read_connection(s) as conn:
        listing = (tabs, select_slice(conn, flt))
        html = pages.render_index(
            s.public_outputs, tag_counts(conn), source_rows(conn), item_count(conn), s.zone, listing
        )
    return html_response(html)


@router.get("/tag/{tag}", response_class=HTMLResponse, include_in_schema=False)
def tag_page(tag: str, request: Request, s: SettingsDep) -> Response:
    return _listing(s, request, tag_slice(s, tag))


@router.get("/site/{host}", response_class=HTMLResponse, include_in_schema=False)
def site_page(host: str, request: Request, s: SettingsDep) -> Response:
    return _listing(s, request, site_slice(host))


@router.get("/item/{id}", response_class=HTMLResponse, include_in_schema=False)
def item_provenance_page(item_id: ItemId, s: SettingsDep) -> Response:
    with read_connection(s) as conn:
        prov = item_provenance(conn, item_id)
    if prov is None:
        raise NotFoundError(f"no item {item_id}")
    return html_response(itempage.render_item(prov, s.zone))


@router.get("/static/style.css", include_in_schema=False)
def style() -> Response:
    return Response(pages.STYLE, media_type="text/css", headers={"Cache-Control": "public, max-age=86400"})


def _listing(s: Settings, request: Request, sl: Slice) -> Response:
    flt, heading = resolve(s, request, sl)
    with read_connection(s) as conn:
        items = select_slice(conn, flt)
    feeds = pages.FeedLinks(sl.title, sl.base, request.url.query)
    tabs = pages.SortTabs(sl.html, tuple(request.query_params.multi_items()), flt.sort, flt.window)
    return html_response(pages.render_listing(heading, feeds, items, s.zone, tabs))
