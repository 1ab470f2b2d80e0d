"""``store.versions``: the data version a server uses without a round trip per request.

On SQLite every commit by another connection is seen at once; on PostgreSQL the
number is re-read once its interval has passed (the clock is injected).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from aggregator.db import make_engine
from aggregator.store.common import bump_data_version, transaction
from aggregator.store.versions import DataVersions


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    eng = make_engine(pg_url)
    yield eng
    eng.dispose()


def write(engine: Engine) -> None:
    with transaction(engine) as conn:
        bump_data_version(conn)


def test_nothing_is_fresh_before_the_first_read(engine: Engine) -> None:
    versions = DataVersions(engine, 5.0)
    try:
        assert versions.fresh() is None
        write(engine)
        assert versions.read() == 1
        assert versions.fresh() == 1
    finally:
        versions.close()


def test_sqlite_sees_every_commit_of_another_connection_at_once(sqlite_engine: Engine) -> None:
    ticks = Ticks()
    versions = DataVersions(sqlite_engine, 3600.0, monotonic=ticks)
    try:
        start = versions.read()
        for n in range(1, 4):
            assert versions.fresh() == start + n - 1
            write(sqlite_engine)  # the clock does not move: only the commit tells
            assert versions.fresh() is None
            assert versions.read() == start + n
        assert versions.fresh() == start + 3
    finally:
        versions.close()


def test_sqlite_reads_that_change_nothing_keep_the_number_fresh(sqlite_engine: Engine) -> None:
    versions = DataVersions(sqlite_engine)
    try:
        version = versions.read()
        with transaction(sqlite_engine) as conn:
            conn.exec_driver_sql("SELECT count(*) FROM item").fetchall()
        assert versions.fresh() == version
    finally:
        versions.close()


@pytest.mark.postgres
def test_other_databases_reread_once_the_interval_has_passed(pg_engine: Engine) -> None:
    engine = pg_engine
    ticks = Ticks()
    versions = DataVersions(engine, 2.0, monotonic=ticks)
    start = versions.read()
    write(engine)
    ticks.now += 1.9
    assert versions.fresh() == start  # within the interval a write may not be seen yet
    ticks.now += 0.2
    assert versions.fresh() is None
    assert versions.read() == start + 1
    assert versions.fresh() == start + 1


@pytest.mark.postgres
def test_an_interval_of_zero_reads_every_time(pg_engine: Engine) -> None:
    versions = DataVersions(pg_engine, 0.0, monotonic=Ticks())
    versions.read()
    assert versions.fresh() is None
