"""The JSON routes: ``/api/items`` (filtered by query parameters, with cursor
pagination), ``/api/items/{id}`` (one item and why it is here), ``/api/explain``
(why an item is or is not in a filtered slice, term by term), ``/api/tags``
(tags with item counts and their feeds), ``/api/sources`` (sources and their
health), ``/healthz`` (liveness: the process answers, no database work) and
``/readyz`` (readiness: the database answers, else 503). Each reads through
``read_connection`` and returns a model from ``schemas``; feeds and HTML belong
to the other route modules.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..errors import NotFoundError, QueryError, StorageError
from ..filters import parse_filter
from ..pages import item_page
from ..paging import Cursor, rank_of
from ..paths import tag_path
from ..store.common import read_data_version
from ..store.explain import explain_item
from ..store.provenance import item_provenance
from ..store.slices import select_slice, source_rows, tag_counts
from .deps import ItemId, SettingsDep, read_connection
from .schemas import (
    ERRORS,
    FILTER_ERRORS,
    FILTER_PARAMETER,
    ExplainOut,
    ItemOut,
    ItemsPage,
    ProvenanceOut,
    SourceOut,
    TagOut,
    TermOut,
)
from .slices import query_params

log = logging.getLogger("aggregator.api")
router = APIRouter()


@router.get(
    "/api/items",
    response_model=ItemsPage,
    responses=FILTER_ERRORS,
    openapi_extra=FILTER_PARAMETER,
    summary="Items matching the filters",
)
def api_items(request: Request, s: SettingsDep) -> ItemsPage:
    params = query_params(request)
    cursor = params.pop("cursor", None)
    after = Cursor.decode(cursor[0]) if cursor else None
    flt = parse_filter(params, aliases=s.config.aliases, now=s.clock())
    if after is not None and (after.rank is None) != (flt.sort == "recent"):
        raise QueryError("cursor", f"not a cursor of sort={flt.sort}")
    with read_connection(s) as conn:
        items = select_slice(conn, flt, after=after)
    last = items[-1] if len(items) == flt.limit else None
    return ItemsPage(
        items=[ItemOut.from_view(i) for i in items],
        next_cursor=Cursor(last.published, last.id, rank_of(flt, last)).encode() if last else None,
        filter=flt.canonical(),
    )


@router.get(
    "/api/items/{id}",
    response_model=ProvenanceOut,
    responses=ERRORS,
    summary="One item and why it is here: its sources, its fields' origins, its bookmark history",
)
def api_item(item_id: ItemId, s: SettingsDep) -> ProvenanceOut:
    with read_connection(s) as conn:
        prov = item_provenance(conn, item_id)
    if prov is None:
        raise NotFoundError(f"no item {item_id}")
    return ProvenanceOut.from_view(prov, item_page(item_id))


@router.get(
    "/api/explain",
    response_model=ExplainOut,
    responses=FILTER_ERRORS,
    openapi_extra={
        "parameters": [
            *FILTER_PARAMETER["parameters"],
            {
                "name": "item",
                "in": "query",
                "required": True,
                "description": "An item id or its link",
                "schema": {"type": "string", "maxLength": 2048},
            },
        ]
    },
    summary="Why an item is or is not in a filtered slice, term by term",
)
def api_explain(request: Request, s: SettingsDep) -> ExplainOut:
    params = query_params(request)
    refs = params.pop("item", None)
    if not refs or len(refs) > 1 or not refs[0].strip() or len(refs[0]) > 2048:
        raise QueryError("item", "give one item id or link")
    flt = parse_filter(params, aliases=s.config.aliases, now=s.clock())
    with read_connection(s) as conn:
        found = explain_item(conn, flt, refs[0])
    if found is None:
        raise NotFoundError(f"no item {refs[0][:80]!r}")
    return ExplainOut(
        item=found.item_id,
        title=found.title,
        link=found.link,
        filter=flt.canonical(),
        in_slice=found.in_slice,
        terms=[
            TermOut(
                term=t.term.text,
                position=t.term.position,
                negated=t.negated,
                matches=t.matches,
                holds=t.holds,
                evidence=t.evidence,
            )
            for t in found.terms
        ],
    )


@router.get("/api/tags", response_model=list[TagOut], summary="Tags with item counts")
def api_tags(s: SettingsDep) -> list[TagOut]:
    with read_connection(s) as conn:
        tags = tag_counts(conn, limit=1000)
    return [
        TagOut(
            name=t.name,
            display=t.display,
            count=t.count,
            feed=f"/feeds/tag/{tag_path(t.name)}.atom",
        )
        for t in tags
    ]


@router.get("/api/sources", response_model=list[SourceOut], summary="Sources and their health")
def api_sources(s: SettingsDep) -> list[SourceOut]:
    with read_connection(s) as conn:
        views = source_rows(conn)
    return [SourceOut.from_view(v) for v in sorted(views, key=lambda v: v.removed)]


@router.get("/healthz", summary="Liveness: the process answers (no database work)")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database answers",
    responses={503: {"description": "The database is unreachable"}},
)
def readyz(s: SettingsDep) -> JSONResponse:
    try:
        with read_connection(s) as conn:
            version = read_data_version(conn)
    except StorageError as exc:
        log.warning("not ready: %s", exc)
        reason = {"status": "unavailable", "reason": "the database is unreachable"}
        return JSONResponse(reason, status_code=503, headers={"Cache-Control": "no-store"})
    ready = {"status": "ok", "data_version": version}
    return JSONResponse(ready, headers={"Cache-Control": "no-store"})
