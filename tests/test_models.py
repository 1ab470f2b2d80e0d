"""``models``: times are stored as naive UTC and come back aware UTC, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import StatementError

from aggregator.models import RunLock, table_of

LOCK = table_of(RunLock)
TOKYO = timezone(timedelta(hours=9))


def test_an_aware_time_comes_back_as_the_same_instant_in_utc(engine: Engine) -> None:
    written = datetime(2019, 5, 20, 0, 0, tzinfo=TOKYO)
    with engine.begin() as conn:
        conn.execute(LOCK.insert().values(name="t", owner="me", acquired_at=written))
        read = conn.execute(select(LOCK.c.acquired_at).where(LOCK.c.name == "t")).scalar_one()
    assert read == written
    assert read.utcoffset() == timedelta(0)
    assert (read.year, read.month, read.day, read.hour) == (2019, 5, 19, 15)


def test_a_naive_time_is_refused(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(StatementError, match="naive datetime"):
        conn.execute(LOCK.insert().values(name="n", acquired_at=datetime(2019, 5, 20)))
