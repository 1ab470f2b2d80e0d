"""Errors to HTTP: domain errors, validation errors and anything unexpected
become a 4xx/5xx JSON body naming the parameter (an HTML page on the HTML
routes), never a stack trace; and ``RequestGuard``, the middleware that refuses
before routing what no route may answer. Which errors exist belongs to
``aggregator.errors``.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import pages
from ..errors import FilterError, NotFoundError, QueryError, StorageError
from .responses import html_response

log = logging.getLogger("aggregator.api")
MAX_HEADER_BYTES = 16 * 1024


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(QueryError)
    async def bad_query(request: Request, exc: QueryError) -> Response:
        if isinstance(exc, FilterError):
            return filter_error_response(request, exc)
        return error_response(request, 422, "invalid_parameter", exc.message, exc.param)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        return error_response(request, 404, "not_found", str(exc))

    @app.exception_handler(StorageError)
    async def storage(request: Request, exc: StorageError) -> Response:
        log.error("storage error on %s: %s", request.url.path, exc)
        return error_response(
            request, 503, "storage_unavailable", "the database is unavailable; try again later"
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        message = str(first.get("msg", "invalid request"))
        return error_response(request, 422, "invalid_parameter", message, param)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(request, exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(request, 500, "internal_error", "internal error")


def error_response(
    request: Request, status: int, error: str, message: str, parameter: str | None = None
) -> Response:
    if _wants_html(request):
        return html_response(pages.render_error(status, message), status)
    body = {"error": error, "message": message} | ({"parameter": parameter} if parameter else {})
    return JSONResponse(body, status_code=status, headers={"X-Content-Type-Options": "nosniff"})


def filter_error_response(request: Request, exc: FilterError) -> Response:
    """422 ``{"error": "invalid_filter", "position": 12, "message": "..."}``: where the query is wrong."""
    if _wants_html(request):
        return html_response(pages.render_error(422, f"filter: {exc.message}"), 422)
    body = {"error": "invalid_filter", "position": exc.position, "message": exc.reason}
    return JSONResponse(body, status_code=422, headers={"X-Content-Type-Options": "nosniff"})


class RequestGuard:
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
                refusal = error_response(Request(scope), 431, "headers_too_large", message)
            elif any(part in (".", "..") for part in scope["path"].split("/")):
                refusal = error_response(Request(scope), 404, "not_found", "no such path")
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return path == "/" or path.startswith(("/tag/", "/site/", "/item/"))
