"""``store.copy``: every row of the sample feeds, polled into SQLite, and of a WebSub subscription,
copied into the other database (SQLite or PostgreSQL) is there with every column; ids go on from
the copied ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel
from test_api import polled_samples

from aggregator.errors import StorageError
from aggregator.models import BookmarkPoint, Sighting, Tag, table_of
from aggregator.store.copy import copied_tables, copy_table, count_rows, empty_tables, reset_counters
from aggregator.store.tokens import create_token

TAG = table_of(Tag)
SIGHTING = table_of(Sighting)
POINT = table_of(BookmarkPoint)
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def dump(engine: Engine, columns: dict[str, set[str]] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every row of every copied table, in primary-key order (only ``columns`` of a table, if given)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in copied_tables():
            wanted = [c for c in table.columns if columns is None or c.name in columns.get(table.name, set())]
            if not wanted:  # a table the database being compared did not have
                continue
            query = select(*wanted).order_by(*table.primary_key.columns)
            rows[table.name] = [dict(row._mapping) for row in conn.execute(query)]
    return rows


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The polled samples, with a row in the tables a poll does not fill (a token, a subscription)."""
    with polled_samples(tmp_path_factory.mktemp("copy")) as (engine, _config, client):
        form = {
            "hub.mode": "subscribe",
            "hub.topic": "http://testserver/feeds/tag/kubernetes.atom?limit=5",
            "hub.callback": "https://subscriber.example/callback",
            "hub.secret": "kept with the subscription",
        }
        assert client.post("/websub", data=form).status_code == 202  # a subscriber is data too
        with engine.begin() as conn:
            create_token(conn, "reading-list", NOW)
        yield engine


def test_every_row_is_copied_and_counters_go_on_from_the_copied_ids(samples: Engine, engine: Engine) -> None:
    with samples.connect() as src, engine.begin() as dst:
        copied = {t.name: copy_table(src, dst, t, batch=7) for t in copied_tables()}
        following = reset_counters(dst)
    original = dump(samples)
    assert dump(engine) == original
    assert copied == {name: len(rows) for name, rows in original.items()}
    assert copied["item"] > 7 and copied["sighting"] > 7  # more than one batch
    assert following["item"] == max(r["id"] for r in original["item"]) + 1
    with engine.begin() as conn:
        new_id = conn.execute(TAG.insert().values(name="fresh", display="fresh")).inserted_primary_key[0]
    assert new_id == following["tag"] == max(r["id"] for r in original["tag"]) + 1


def test_empty_tables_leaves_no_row(samples: Engine, engine: Engine) -> None:
    with samples.connect() as src, engine.begin() as dst:
        for table in copied_tables():
            copy_table(src, dst, table)
        assert all(count_rows(dst).values())
        empty_tables(dst)
        assert set(count_rows(dst).values()) == {0}
        assert {t.name for t in SQLModel.metadata.sorted_tables} >= set(count_rows(dst))


def test_a_failed_copy_leaves_the_target_as_it_was(samples: Engine, engine: Engine) -> None:
    first_tag = dump(samples)["tag"][0]
    with engine.begin() as conn:
        conn.execute(TAG.insert().values(name=first_tag["name"], display="taken"))
    with pytest.raises(StorageError), samples.connect() as src, engine.begin() as dst:
        for table in copied_tables():
            copy_table(src, dst, table)  # the samples' first tag collides with the one above
    with engine.connect() as conn:
        assert count_rows(conn) == {t.name: int(t.name == "tag") for t in copied_tables()}
