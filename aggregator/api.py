"""``create_app``: the HTTP service. Thin routes over filters -> store.slices -> render.

Feeds: ``/feeds/all.{ext}``, ``/feeds/tag/{tag}.{ext}``, ``/feeds/site/{host}.{ext}``,
``/feeds/{slug}.{ext}`` (named outputs), each also filtered by query parameters.
JSON: ``/api/items`` (cursor pagination), ``/api/tags``, ``/api/sources``, ``/healthz``.
HTML: ``/``, ``/tag/{tag}``, ``/site/{host}``. Bad parameters are 4xx JSON naming
the parameter; nothing answers with a stack trace.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote_from_bytes, urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from . import __version__, pages
from .config import Config, OutputConfig
from .errors import NotFoundError, QueryError, StorageError
from .feedcache import SliceCache, http_date, is_not_modified
from .filters import PARAMS, Filter, parse_filter, parse_site
from .identity import normalize_tag
from .render import FORMATS, MEDIA_TYPES, render_feed
from .store.common import read_data_version
from .store.slices import Cursor, item_count, select_slice, source_rows, tag_counts
from .views import FeedMeta, ItemView

log = logging.getLogger("aggregator.api")
FEED_MAX_AGE = 300
MAX_PATH_VALUE = 200
MAX_HEADER_BYTES = 16 * 1024
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Slice:
    """A route's implied filter and the words that title it."""

    route: Filter
    title: str
    description: str
    base: str  # path without extension, e.g. /feeds/tag/kubernetes
    html: str  # the matching HTML listing


class Settings:
    def __init__(self, engine: Engine, config: Config, clock: Clock) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.cache = SliceCache()
        self.outputs = {o.slug: o for o in config.outputs}


# -- response models (OpenAPI) -------------------------------------------------------------------


class SourceRefOut(BaseModel):
    id: int
    title: str
    url: str
    kind: str
    user: str | None = None
    comment: str | None = None


class ItemOut(BaseModel):
    id: int
    link: str | None
    title: str
    summary: str | None
    content: str | None
    author: str | None
    published: datetime
    updated: datetime
    site: str | None
    bookmark_count: int | None
    image: str | None
    tags: list[str]
    sources: list[SourceRefOut]


class ItemsPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None
    filter: str


class TagOut(BaseModel):
    name: str
    display: str
    count: int
    feed: str


class SourceOut(BaseModel):
    id: int
    url: str
    title: str
    kind: str
    enabled: bool
    gone: bool
    items: int
    last_status: str | None
    last_http_status: int | None
    last_error: str | None
    error_category: str | None
    last_error_at: datetime | None
    consecutive_errors: int
    last_polled_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None


class ErrorOut(BaseModel):
    error: str
    parameter: str | None = None
    message: str


def get_settings(request: Request) -> Settings:
    state: Settings = request.app.state.settings
    return state


SettingsDep = Annotated[Settings, Depends(get_settings)]
ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 422: {"model": ErrorOut}}


def create_app(engine: Engine, config: Config, *, clock: Clock | None = None) -> FastAPI:
    settings = Settings(engine, config, clock or (lambda: datetime.now(UTC)))
    app = FastAPI(title="aggregator", version=__version__, description="Filtered combined feeds.")
    app.state.settings = settings

    _install_error_handlers(app)
    app.add_middleware(_RequestGuard)

    @_get_and_head(app, "/feeds/all.{ext}", "Every item")
    def feed_all(ext: str, request: Request, s: SettingsDep) -> Response:
        return _feed_response(
            s, request, ext, Slice(Filter(), "Everything", "Every item, newest first", "/feeds/all", "/")
        )

    @_get_and_head(app, "/feeds/tag/{tag}.{ext}", "Items with a tag")
    def feed_tag(tag: str, ext: str, request: Request, s: SettingsDep) -> Response:
        return _feed_response(s, request, ext, _tag_slice(s, tag))

    @_get_and_head(app, "/feeds/site/{host}.{ext}", "Items on a host or its subdomains")
    def feed_site(host: str, ext: str, request: Request, s: SettingsDep) -> Response:
        return _feed_response(s, request, ext, _site_slice(host))

    @_get_and_head(app, "/feeds/{slug}.{ext}", "A named output")
    def feed_named(slug: str, ext: str, request: Request, s: SettingsDep) -> Response:
        output = s.outputs.get(slug)
        if output is None:
            raise NotFoundError(f"no feed named {slug[:60]!r}")
        return _feed_response(s, request, ext, _output_slice(s, output))

    @app.get("/api/items", response_model=ItemsPage, responses=ERRORS, summary="Items matching the filters")
    def api_items(request: Request, s: SettingsDep) -> ItemsPage:
        params = _query(request)
        cursor = params.pop("cursor", None)
        after = Cursor.decode(cursor[0]) if cursor else None
        flt = parse_filter(params, aliases=s.config.aliases, now=s.clock())
        with _connect(s) as conn:
            items = select_slice(conn, flt, after=after)
        last = items[-1] if len(items) == flt.limit else None
        return ItemsPage(
            items=[_item_out(i) for i in items],
            next_cursor=Cursor(last.published, last.id).encode() if last else None,
            filter=flt.canonical(),
        )

    @app.get("/api/tags", response_model=list[TagOut], summary="Tags with item counts")
    def api_tags(s: SettingsDep) -> list[TagOut]:
        with _connect(s) as conn:
            tags = tag_counts(conn, limit=1000)
        return [
            TagOut(
                name=t.name,
                display=t.display,
                count=t.count,
                feed=f"/feeds/tag/{pages.tag_path(t.name)}.atom",
            )
            for t in tags
        ]

    @app.get("/api/sources", response_model=list[SourceOut], summary="Sources and their health")
    def api_sources(s: SettingsDep) -> list[SourceOut]:
        with _connect(s) as conn:
            rows = source_rows(conn)
        return [SourceOut(**{**r, "title": r["title"] or r["feed_title"] or r["url"]}) for r in rows]

    @app.get("/healthz", summary="Liveness and database reachability")
    def healthz(s: SettingsDep) -> dict[str, Any]:
        with _connect(s) as conn:
            version = read_data_version(conn)
        return {"status": "ok", "data_version": version}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(s: SettingsDep) -> Response:
        with _connect(s) as conn:
            html = pages.render_index(s.config.outputs, tag_counts(conn), source_rows(conn), item_count(conn))
        return _html(html)

    @app.get("/tag/{tag}", response_class=HTMLResponse, include_in_schema=False)
    def tag_page(tag: str, request: Request, s: SettingsDep) -> Response:
        return _listing(s, request, _tag_slice(s, tag))

    @app.get("/site/{host}", response_class=HTMLResponse, include_in_schema=False)
    def site_page(host: str, request: Request, s: SettingsDep) -> Response:
        return _listing(s, request, _site_slice(host))

    @app.get("/static/style.css", include_in_schema=False)
    def style() -> Response:
        return Response(
            pages.STYLE, media_type="text/css", headers={"Cache-Control": "public, max-age=86400"}
        )

    return app


Endpoint = Callable[..., Response]


def _get_and_head(app: FastAPI, path: str, summary: str) -> Callable[[Endpoint], Endpoint]:
    """GET and HEAD on ``path``; HEAD stays out of the schema, so operation ids stay unique."""

    def register(endpoint: Endpoint) -> Endpoint:
        app.head(path, responses=ERRORS, summary=summary, include_in_schema=False)(endpoint)
        return app.get(path, responses=ERRORS, summary=summary)(endpoint)

    return register


# -- slices --------------------------------------------------------------------------------------


def _check_path_value(name: str, value: str) -> str:
    if not value or len(value) > MAX_PATH_VALUE:
        raise QueryError(name, f"must be 1 to {MAX_PATH_VALUE} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value) or ".." in value or "/" in value or "\\" in value:
        raise QueryError(name, "contains characters not allowed in a path segment")
    return value


def _tag_slice(s: Settings, raw: str) -> Slice:
    name = normalize_tag(_check_path_value("tag", raw), s.config.aliases)
    if not name:
        raise QueryError("tag", "empty tag")
    base = f"/feeds/tag/{pages.tag_path(name)}"
    return Slice(
        Filter(tags=(name,)),
        f"Tagged “{name}”",
        f"Every item tagged {name}",
        base,
        f"/tag/{pages.tag_path(name)}",
    )


def _site_slice(raw: str) -> Slice:
    host = parse_site(_check_path_value("host", raw), "host")
    return Slice(
        Filter(sites=(host,)),
        f"On {host}",
        f"Every item on {host} and its subdomains",
        f"/feeds/site/{host}",
        f"/site/{host}",
    )


def _output_slice(s: Settings, output: OutputConfig) -> Slice:
    route = parse_filter(output.filters, aliases=s.config.aliases, now=s.clock())
    return Slice(route, output.title, output.description or route.describe(), f"/feeds/{output.slug}", "/")


def _query(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if len(params) > len(PARAMS) + 1:
        raise QueryError("query", "too many parameters")
    return params


def _resolve(s: Settings, request: Request, sl: Slice) -> tuple[Filter, str]:
    """The route's filter merged with the query's, and the title of the result."""
    query = parse_filter(_query(request), aliases=s.config.aliases, now=s.clock())
    narrowed = query.with_limit(sl.route.limit).describe()
    title = sl.title if narrowed == Filter().describe() else f"{sl.title}, {narrowed}"
    return sl.route.merge(query), title


# -- responses -----------------------------------------------------------------------------------


def _feed_response(s: Settings, request: Request, ext: str, sl: Slice) -> Response:
    if ext not in FORMATS:
        raise NotFoundError(f"unknown feed format {ext[:20]!r}: use .atom, .rss or .json")
    flt, heading = _resolve(s, request, sl)
    key = f"{ext} {sl.base} {flt.canonical()}"
    title = f"{heading} — aggregator"
    meta_base = {
        "title": title,
        "subtitle": sl.description,
        "self_url": _request_url(request),
        "html_url": str(request.base_url).rstrip("/") + sl.html,
        "feed_id": _feed_id(ext, sl, flt, request),
    }

    def load() -> tuple[str, Sequence[ItemView]]:
        with _connect(s) as conn:
            return title, select_slice(conn, flt)

    def render(items: Sequence[ItemView]) -> bytes:
        newest = max((i.updated for i in items), default=datetime(1970, 1, 1, tzinfo=UTC))
        return render_feed(ext, FeedMeta(updated=newest, **meta_base), items)

    with _connect(s) as conn:
        version = read_data_version(conn)
    entry = s.cache.get(key + " " + meta_base["self_url"], version, load, render, ext)
    headers = {
        "ETag": entry.etag,
        "Last-Modified": http_date(entry.last_modified),
        "Cache-Control": f"public, max-age={FEED_MAX_AGE}",
        "X-Content-Type-Options": "nosniff",
    }
    if is_not_modified(request.headers.get("if-none-match"), request.headers.get("if-modified-since"), entry):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(entry.body))
        return Response(b"", media_type=MEDIA_TYPES[ext], headers=headers)
    return Response(entry.body, media_type=MEDIA_TYPES[ext], headers=headers)


def _request_url(request: Request) -> str:
    """The URL as the client sent it: the path keeps its percent-encoding (``%E6%A9%9F``, ``%20``)."""
    raw = request.scope.get("raw_path")
    if not isinstance(raw, bytes):
        return str(request.url)
    return str(request.url.replace(path=quote_from_bytes(raw, safe="/%:@!$&'()*+,;=-._~")))


def _feed_id(ext: str, sl: Slice, flt: Filter, request: Request) -> str:
    """Stable per URL: a relative window such as ``since=7d`` is named as written, not as resolved now."""
    window = urlencode([(k, v) for k, v in request.query_params.multi_items() if k in ("since", "until")])
    named = f"{ext} {sl.base} {replace(flt, since=None, until=None).canonical()} {window}"
    return "urn:aggregator:feed:" + hashlib.sha256(named.encode()).hexdigest()[:32]


def _listing(s: Settings, request: Request, sl: Slice) -> Response:
    flt, heading = _resolve(s, request, sl)
    with _connect(s) as conn:
        items = select_slice(conn, flt)
    feeds = pages.FeedLinks(sl.title, sl.base, request.url.query)
    return _html(pages.render_listing(heading, feeds, items))


def _html(body: str, status: int = 200) -> Response:
    return HTMLResponse(
        body,
        status_code=status,
        headers={
            "Content-Security-Policy": pages.CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
        },
    )


def _item_out(item: ItemView) -> ItemOut:
    return ItemOut(
        id=item.id,
        link=item.link,
        title=item.title,
        summary=item.summary,
        content=item.content,
        author=item.author,
        published=item.published,
        updated=item.updated,
        site=item.site,
        bookmark_count=item.bookmark_count,
        image=item.image,
        tags=list(item.tags),
        sources=[
            SourceRefOut(id=r.id, title=r.title, url=r.url, kind=r.kind, user=r.user, comment=r.comment)
            for r in item.sources
        ],
    )


class _connect:
    """A read connection; database failures become StorageError (HTTP 503)."""

    def __init__(self, s: Settings) -> None:
        self.s = s
        self.conn: Connection | None = None

    def __enter__(self) -> Connection:
        try:
            self.conn = self.s.engine.connect()
        except SQLAlchemyError as exc:
            raise StorageError(f"database unavailable: {type(exc).__name__}") from exc
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.conn is not None:
            self.conn.close()
        if isinstance(exc, OperationalError | InterfaceError):
            raise StorageError(f"database error: {type(exc).__name__}") from exc


# -- errors --------------------------------------------------------------------------------------


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return path == "/" or path.startswith(("/tag/", "/site/"))


def _error(request: Request, status: int, error: str, message: str, parameter: str | None = None) -> Response:
    if _wants_html(request):
        return _html(pages.render_error(status, message), status)
    body = {"error": error, "message": message} | ({"parameter": parameter} if parameter else {})
    return JSONResponse(body, status_code=status, headers={"X-Content-Type-Options": "nosniff"})


class _RequestGuard:
    """Refuses, before routing, what no route may answer.

    Request headers over ``MAX_HEADER_BYTES`` in all get 431 whatever the
    server's own limits, and a path with ``.`` or ``..`` segments once
    decoded (``/tag/%2e%2e%2f``) gets 404 rather than a redirect to the
    normalized path.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal: Response | None = None
            if sum(len(name) + len(value) for name, value in scope["headers"]) > MAX_HEADER_BYTES:
                message = f"request headers larger than {MAX_HEADER_BYTES} bytes"
                refusal = _error(Request(scope), 431, "headers_too_large", message)
            elif any(part in (".", "..") for part in scope["path"].split("/")):
                refusal = _error(Request(scope), 404, "not_found", "no such path")
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(QueryError)
    async def bad_query(request: Request, exc: QueryError) -> Response:
        return _error(request, 422, "invalid_parameter", exc.message, exc.param)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        return _error(request, 404, "not_found", str(exc))

    @app.exception_handler(StorageError)
    async def storage(request: Request, exc: StorageError) -> Response:
        log.error("storage error on %s: %s", request.url.path, exc)
        return _error(request, 503, "storage_unavailable", "the database is unavailable; try again later")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return _error(request, 422, "invalid_parameter", str(first.get("msg", "invalid request")), param)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return _error(request, 500, "internal_error", "internal error")


def serve(engine: Engine, config: Config, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    import uvicorn

    app = create_app(engine, config)
    print(f"serving on http://{host}:{port}/  (feeds: http://{host}:{port}/feeds/all.atom)", flush=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        server_header=False,
        limit_concurrency=1000,
        timeout_keep_alive=10,
    )
