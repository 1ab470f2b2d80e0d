"""Engines for SQLite and PostgreSQL, nothing else.

SQLite gets WAL mode, a busy timeout and foreign keys on every connection;
``postgresql://`` URLs use the psycopg (3) driver, the ``postgres`` extra
(a missing driver is a ``StorageError`` that says how to install it).
An empty database gets the schema at the head revision; one at another revision
(or made before migrations) is refused until ``aggregator db upgrade`` (``migrations``).
"""

from __future__ import annotations

import sys
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import create_engine

from .errors import StorageError
from .migrations import ensure_head
from .store.common import first_line

BUSY_TIMEOUT_MS = 10_000
POSTGRES_DRIVER_MISSING = (
    "PostgreSQL needs the psycopg driver, which is not installed: "
    "run `.venv/bin/pip install -e '.[postgres]'` in the aggregator checkout "
    f"(or `{sys.executable} -m pip install 'psycopg[binary]>=3.1'`)"
)


def normalize_url(url: str) -> str:
    """Pick the psycopg driver for bare ``postgresql://`` URLs.

    Raises:
        StorageError: not a database URL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"not a database URL: {url!r} (e.g. sqlite:///aggregator.db)") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, create: bool = True, echo: bool = False) -> Engine:
    """An engine for ``url``; with ``create``, the schema in place at the head revision.

    Raises:
        SchemaVersionError: ``create`` and the database is not at the head revision.
        StorageError: the database cannot be reached or the schema cannot be created.
    """
    url = normalize_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
        # Server-side prepared statements would keep plans costed on a nearly empty
        # table (full scans for key lookups) until autovacuum analyzes it.
        kwargs["connect_args"] = {"connect_timeout": 10, "prepare_threshold": None}
    try:
        engine = create_engine(url, **kwargs)
    except ImportError as exc:
        if is_missing_psycopg(exc):
            raise StorageError(POSTGRES_DRIVER_MISSING) from exc
        raise StorageError(f"cannot open database {make_url(url)!r}: {exc}") from exc
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot open database {make_url(url)!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    if create:
        try:
            ensure_head(engine)
        except StorageError:
            engine.dispose()
            raise
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StorageError(f"cannot reach database {make_url(url)!r}: {first_line(exc)}") from exc
    return engine


def is_missing_psycopg(exc: ImportError) -> bool:
    """True when an import failed because psycopg (or its libpq wrapper) is not installed."""
    return (exc.name or "").split(".")[0] == "psycopg" or "psycopg" in str(exc) or "pq wrapper" in str(exc)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # SQLite's own lower() folds ASCII only; text search lowers its pattern with str.lower.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value
