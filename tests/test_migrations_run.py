"""``migrations.run``: ``upgrade`` takes an empty database, or one with data at the first
revision, to the head with the models' schema and every row kept; it leaves alone a database
that a newer release upgraded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel
from test_api import polled_samples
from test_migrations import differences, revision_of
from test_store_copy import dump

from aggregator.db import make_engine
from aggregator.errors import SchemaVersionError
from aggregator.migrations import HEAD
from aggregator.migrations.baseline import REVISION, baseline_metadata
from aggregator.migrations.run import alembic_config, current, upgrade

Rows = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rows]:
    """Every row of the sample feeds polled into a database at the head."""
    with polled_samples(tmp_path_factory.mktemp("run")) as (engine, _config, _client):
        yield dump(engine)


@pytest.fixture
def bare(db_url: str) -> Iterator[Engine]:
    """An engine on the empty database, without the schema every command would create."""
    engine = make_engine(db_url, create=False)
    yield engine
    engine.dispose()


def columns_of(metadata: MetaData) -> dict[str, set[str]]:
    return {t.name: {c.name for c in t.columns} for t in metadata.sorted_tables}


def stored(row: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """``row`` as a table of ``names`` stores it: naive UTC datetimes, as the models write them."""
    return {
        k: (v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v)
        for k, v in row.items()
        if k in names
    }


def insert_rows(engine: Engine, metadata: MetaData, rows: Rows) -> None:
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            names = {c.name for c in table.columns}
            if rows.get(table.name):
                conn.execute(table.insert(), [stored(r, names) for r in rows[table.name]])


def only(rows: Rows, columns: dict[str, set[str]]) -> Rows:
    return {
        name: [{k: v for k, v in r.items() if k in columns[name]} for r in rs]
        for name, rs in rows.items()
        if name in columns
    }


def test_an_empty_database_is_upgraded_to_the_models_schema(bare: Engine) -> None:
    done = upgrade(bare)
    assert (done.before.revision, done.before.has_tables, done.after) == (None, False, HEAD)
    assert done.adoption is None
    assert revision_of(bare) == HEAD
    assert differences(bare) == []


@pytest.mark.postgres
def test_site_keys_compare_as_bytes_on_postgresql_made_or_migrated(pg_url: str) -> None:
    query = text("SELECT collation_name FROM information_schema.columns WHERE table_name = 'item' "
                 "AND column_name = 'site_key' AND table_schema = current_schema()")  # fmt: skip
    made = make_engine(pg_url)  # created at the head directly
    with made.begin() as conn:
        assert conn.execute(query).scalar() == "C"
        conn.execute(text("DROP TABLE alembic_version"))
        SQLModel.metadata.drop_all(conn)
    upgrade(made)  # through the revisions
    with made.connect() as conn:
        assert conn.execute(query).scalar() == "C"
    made.dispose()


def test_data_at_the_first_revision_survives_the_upgrade_to_head(bare: Engine, samples: Rows) -> None:
    with bare.begin() as conn:
        config = alembic_config(conn)
        command.upgrade(config, REVISION)
    baseline = baseline_metadata()
    insert_rows(bare, baseline, samples)
    assert current(bare)[0].revision == REVISION

    done = upgrade(bare)

    assert (done.before.revision, done.after) == (REVISION, HEAD)
    assert differences(bare) == []
    kept = columns_of(baseline)
    assert dump(bare, kept) == only(samples, kept)
    assert {len(samples[name]) for name in ("item", "tag", "source", "sighting")} != {0}
    make_engine(bare.url.render_as_string(hide_password=False)).dispose()  # opens without refusal


def test_a_database_a_newer_release_upgraded_is_left_alone(bare: Engine) -> None:
    upgrade(bare)
    with bare.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        conn.execute(text("INSERT INTO tag (name, display) VALUES ('k8s', 'K8s')"))
    with pytest.raises(SchemaVersionError, match="9999, which this release does not know"):
        upgrade(bare)
    assert current(bare)[1] == "unknown"
    with bare.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "9999"
        assert conn.execute(text("SELECT name FROM tag")).scalars().all() == ["k8s"]


def test_upgrading_at_the_head_changes_nothing(bare: Engine) -> None:
    upgrade(bare)
    done = upgrade(bare)
    assert (done.before.revision, done.after, done.adoption) == (HEAD, HEAD, None)
