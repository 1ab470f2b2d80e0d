"""The HTTP service, thin routes over filters -> store.slices -> render: feeds
at ``/feeds/all.{ext}``, ``/feeds/tag/{tag}.{ext}``, ``/feeds/site/{host}.{ext}``
and ``/feeds/{slug}.{ext}`` (named outputs; a private one only with its token,
``tokens``), each also filtered by query
parameters (``routes_feeds``, with the route's filter from ``slices``); JSON at
``/api/items`` (cursor pagination), ``/api/items/{id}`` (why an item is here),
``/api/tags``, ``/api/sources`` and ``/healthz`` (``routes_json``, models in
``schemas``); HTML at ``/``, ``/tag/{tag}``, ``/site/{host}`` and ``/item/{id}``
(``routes_pages``); WebSub subscriptions at ``POST /websub``
(``routes_websub``). Bad parameters are 4xx JSON naming the parameter and nothing
answers with a stack trace (``errors``);
every GET route answers HEAD too (``head``);
settings and the read connection are in ``deps``, ``create_app`` and ``serve``
in ``app``.
"""

from ..clock import Clock
from .app import create_app, serve
from .deps import Settings, SettingsDep, get_settings, read_connection
from .errors import MAX_HEADER_BYTES, RequestGuard
from .head import HeadAsGet
from .routes_feeds import FEED_MAX_AGE
from .schemas import ERRORS, ErrorOut, ItemOut, ItemsPage, SourceOut, SourceRefOut, TagOut
from .slices import MAX_PATH_VALUE, Slice

__all__ = [
    "ERRORS",
    "FEED_MAX_AGE",
    "MAX_HEADER_BYTES",
    "MAX_PATH_VALUE",
    "Clock",
    "ErrorOut",
    "HeadAsGet",
    "ItemOut",
    "ItemsPage",
    "RequestGuard",
    "Settings",
    "SettingsDep",
    "Slice",
    "SourceOut",
    "SourceRefOut",
    "TagOut",
    "create_app",
    "get_settings",
    "read_connection",
    "serve",
]
