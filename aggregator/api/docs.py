"""The API documentation, served offline: Swagger UI at ``/docs`` and ReDoc at
``/redoc``, their scripts, stylesheet and icon from the ``fastapi-offline``
package under ``/docs/static``, never from a CDN, and no call to an online
validator. The schema itself is FastAPI's ``/openapi.json``; the routes it
describes belong to the route modules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = "/docs/static"
ASSETS_PACKAGE = ("fastapi_offline", "static")
PageBuilder = Callable[..., HTMLResponse]
# path -> (route name, FastAPI's page builder, its asset arguments -> file under STATIC, other arguments)
PAGES: dict[str, tuple[str, PageBuilder, dict[str, str], dict[str, Any]]] = {
    "/docs": (
        "swagger_ui",
        get_swagger_ui_html,
        {
            "swagger_js_url": "swagger-ui-bundle.js",
            "swagger_css_url": "swagger-ui.css",
            "swagger_favicon_url": "favicon.png",
        },
        {"swagger_ui_parameters": {"validatorUrl": None}},
    ),
    "/redoc": (
        "redoc",
        get_redoc_html,
        {"redoc_js_url": "redoc.standalone.js", "redoc_favicon_url": "favicon.png"},
        {"with_google_fonts": False},
    ),
}


def install_docs(app: FastAPI) -> None:
    """``/docs``, ``/redoc`` and their assets on ``app``, built with ``docs_url=None, redoc_url=None``."""
    app.mount(STATIC, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-static")
    for path, (name, builder, assets, options) in PAGES.items():
        app.add_api_route(
            path, _page(app, builder, assets, options), methods=["GET"], name=name, include_in_schema=False
        )


def _page(
    app: FastAPI, builder: PageBuilder, assets: dict[str, str], options: dict[str, Any]
) -> Callable[[Request], HTMLResponse]:
    """A docs page's route: the schema and the assets under the request's root path."""
    openapi_url = app.openapi_url or "/openapi.json"

    def page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        urls = {argument: f"{root}{STATIC}/{file}" for argument, file in assets.items()}
        return builder(openapi_url=root + openapi_url, title=f"{app.title} — API", **urls, **options)

    return page
