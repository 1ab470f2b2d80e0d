"""What every route depends on: ``Settings`` (engine, config, clock, the slice
cache and the named outputs), the ``SettingsDep`` alias that hands them to a
route, and ``read_connection``, the one way a route reads the database. Routes,
response models and error mapping do not belong here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from ..clock import Clock
from ..config import Config
from ..errors import StorageError
from ..feedcache import SliceCache


class Settings:
    def __init__(self, engine: Engine, config: Config, clock: Clock) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.cache = SliceCache()
        self.outputs = {o.slug: o for o in config.outputs}
        self.zone = config.server.zone  # dates on the HTML pages; None: the local zone


def get_settings(request: Request) -> Settings:
    state: Settings = request.app.state.settings
    return state


SettingsDep = Annotated[Settings, Depends(get_settings)]


class read_connection:
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
