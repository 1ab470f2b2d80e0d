"""Shared fixtures: real databases (an SQLite file, and PostgreSQL on 127.0.0.1:5432)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from feedserver import FeedServer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from aggregator.db import make_engine

CORPUS_ENV = "AGGREGATOR_CORPUS"
CORPUS = Path(os.environ.get(CORPUS_ENV) or Path(__file__).resolve().parents[2] / "shared" / "corpus")
PG_URL = os.environ.get("AGGREGATOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Tests parse in the poller's writer thread (as with [poller] parse_workers = 0) unless a test
# configures parse_workers itself: tests/test_poller_pool.py covers the process pool.
os.environ.setdefault("AGGREGATOR_PARSE_WORKERS", "0")


def postgres_available() -> bool:
    try:
        probe = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with probe.connect() as conn:
            conn.execute(text("select 1"))
        probe.dispose()
        return True
    except Exception:
        return False


_PG = postgres_available()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'aggregator.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards."""
    with fresh_pg_schema() as url:
        yield url


@contextmanager
def fresh_pg_schema() -> Iterator[str]:
    """The URL of a fresh schema in the test database, dropped on leaving (for fixtures of any scope)."""
    if not _PG:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable at 127.0.0.1:5432 (CI must start it)")
        pytest.skip("PostgreSQL not reachable")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs on a real SQLite file and on the real PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def srv() -> Iterator[FeedServer]:
    """A local FeedServer that must end the test without handler errors (modules may define their own)."""
    with FeedServer() as server:
        yield server
    assert server.errors == []


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


# --------------------------------------------------------------------------- the feed corpus (../shared)


def is_ci(value: str | None) -> bool:
    """True for CI=true, CI=1, ...; false when unset, empty or a "no" word."""
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


def missing_corpus_action(present: bool, ci: str | None) -> str | None:
    """What a corpus test does: run (None), or when the corpus is absent, "skip" locally and "fail" in CI."""
    if present:
        return None
    return "fail" if is_ci(ci) else "skip"


def require_corpus(marker: str = "README.md") -> None:
    """Skip the calling test when the corpus is absent, or fail it under CI=true."""
    action = missing_corpus_action((CORPUS / marker).is_file(), os.environ.get("CI"))
    message = f"feed corpus not found at {CORPUS} (check out ../shared, or set {CORPUS_ENV})"
    if action == "fail":
        pytest.fail(f"{message}; under CI the corpus tests must run, not skip", pytrace=False)
    if action == "skip":
        pytest.skip(message)


def corpus_skipif(condition: bool, *, reason: str) -> pytest.MarkDecorator:
    """``skipif`` for part of the corpus, locally only; under CI the test runs, and fails if it is absent."""
    return pytest.mark.skipif(condition and not is_ci(os.environ.get("CI")), reason=reason)
