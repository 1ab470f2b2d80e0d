"""The wiring: ``create_app`` builds the FastAPI application from an engine and
a config (settings, error handlers, the request guard, the request metrics
and ``/metrics``, HEAD as GET, then the feed, JSON and HTML routes and the
offline API docs, in that order) and
``serve`` runs it under uvicorn. Routes, responses and error mapping belong to
their own modules.
"""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from .. import __version__
from ..clock import Clock, utcnow
from ..config import Config
from . import routes_feeds, routes_json, routes_pages
from .deps import Settings
from .docs import install_docs
from .errors import RequestGuard, install_error_handlers
from .head import HeadAsGet
from .metrics import install_metrics


def create_app(engine: Engine, config: Config, *, clock: Clock = utcnow) -> FastAPI:
    settings = Settings(engine, config, clock)
    app = FastAPI(
        title="aggregator",
        version=__version__,
        description="Filtered combined feeds.",
        docs_url=None,  # served offline by install_docs
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(RequestGuard)
    install_metrics(app, settings)  # counts refusals too; sees HEAD as GET
    app.add_middleware(HeadAsGet)  # outermost: a refusal answers HEAD without a body too
    app.include_router(routes_feeds.router)
    app.include_router(routes_json.router)
    app.include_router(routes_pages.router)
    install_docs(app)
    return app


def serve(engine: Engine, config: Config, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    import uvicorn

    app = create_app(engine, config)
    print(f"serving on http://{host}:{port}/  (feeds: http://{host}:{port}/feeds/all.atom)", flush=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        log_config=None,  # uvicorn's lines go through the process's logging: text or JSON, redacted
        server_header=False,
        limit_concurrency=1000,
        timeout_keep_alive=10,
    )
