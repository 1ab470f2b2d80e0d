"""The wiring: ``create_app`` builds the FastAPI application from an engine and
a config (settings, error handlers, the request guard, the request metrics
and ``/metrics``, HEAD as GET, then the feed, JSON and HTML routes and the
offline API docs, in that order) and
``serve`` runs it under uvicorn. Routes, responses and error mapping belong to
their own modules.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from .. import __version__
from ..clock import Clock, utcnow
from ..config import Config
from . import routes_archives, routes_catalog, routes_feeds, routes_json, routes_pages, routes_websub
from .deps import Settings
from .docs import install_docs
from .errors import RequestGuard, install_error_handlers
from .fastpath import FeedFastPath
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
    app.add_middleware(FeedFastPath, settings=settings)
    app.add_middleware(RequestGuard)
    install_metrics(app, settings)  # counts refusals too; sees HEAD as GET
    app.add_middleware(HeadAsGet)  # outermost: a refusal answers HEAD without a body too
    app.include_router(routes_feeds.router)
    app.include_router(routes_archives.router)
    app.include_router(routes_json.router)
    app.include_router(routes_pages.router)
    app.include_router(routes_catalog.router)
    app.include_router(routes_websub.router)
    install_docs(app)
    return app


def app_from_environment() -> FastAPI:
    """The application for one of several server processes: config and database from the environment."""
    from ..config import config_path, database_url, load_config
    from ..db import make_engine
    from ..logformat import LOG_FORMATS, configure_logging

    fmt = os.environ.get("AGGREGATOR_LOG_FORMAT", "text")
    configure_logging(fmt if fmt in LOG_FORMATS else "text")
    return create_app(make_engine(database_url(None)), load_config(config_path(None)))


def serve(
    engine: Engine,
    config: Config,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    server: str = "granian",
) -> None:
    """Serve under granian (the default: the fastest here, see docs/benchmarks.md) or uvicorn.

    granian, and uvicorn with several ``workers``, run the application in
    processes of their own, and each builds it from ``AGGREGATOR_CONFIG`` and
    ``AGGREGATOR_DB``, which the caller has set; uvicorn with one worker serves
    ``config`` and ``engine`` in this process. No
    process keeps state that decides what a client sees (the slice cache is keyed
    by the database's data version), so every worker answers a request with the
    same bytes and ETag.
    """
    print(f"serving on http://{host}:{port}/  (feeds: http://{host}:{port}/feeds/all.atom)", flush=True)
    target = "aggregator.api.app:app_from_environment"
    if server == "granian":
        from granian import Granian
        from granian.constants import HTTPModes, Interfaces

        engine.dispose()
        Granian(
            target,
            factory=True,
            address=host,
            port=port,
            interface=Interfaces.ASGI,
            http=HTTPModes.http1,
            websockets=False,
            workers=workers,
            backpressure=1000,
            respawn_failed_workers=True,
            log_level="warning",  # type: ignore[arg-type]
        ).serve()
        return
    import uvicorn

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "log_config": None,  # uvicorn's lines go through the process's logging: text or JSON, redacted
        "server_header": False,
        "limit_concurrency": 1000,
        "timeout_keep_alive": 10,
    }
    if workers > 1:
        engine.dispose()
        uvicorn.run(target, factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(engine, config), **options)
