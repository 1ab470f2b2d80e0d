"""What every route depends on: ``Settings`` (engine, config, clock, the slice
cache and the named outputs), the ``SettingsDep`` alias that hands them to a
route, ``ItemId``, an item's id taken from the path (a positive 64-bit integer,
else 422), and ``read_connection``, the one way a route reads the database. Routes,
response models and error mapping do not belong here.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.engine import Connection, Engine

from ..clock import Clock
from ..config import Config
from ..feedcache import SliceCache
from ..store.common import connect
from ..store.provenance import MAX_ITEM_ID
from ..store.versions import DataVersions
from .fastpath import Answers


class Settings:
    def __init__(self, engine: Engine, config: Config, clock: Clock) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.cache = SliceCache()
        self.versions = DataVersions(engine, config.server.version_interval)
        self.answers = Answers()
        self.outputs = {o.slug: o for o in config.outputs}
        self.public_outputs = tuple(o for o in config.outputs if not o.private)  # listed on / and OPML
        self.zone = config.server.zone  # dates on the HTML pages; None: the local zone


def get_settings(request: Request) -> Settings:
    state: Settings = request.app.state.settings
    return state


SettingsDep = Annotated[Settings, Depends(get_settings)]
ItemId = Annotated[
    int, Path(alias="id", ge=1, le=MAX_ITEM_ID, description="An item's id, as /api/items gives it")
]


def read_connection(s: Settings) -> AbstractContextManager[Connection]:
    """A read connection; database failures leave it as StorageError (HTTP 503)."""
    return connect(s.engine)
