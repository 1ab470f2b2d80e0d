"""``migrations.adopt``: a database made by the release before migrations (with or without the
nullable columns added since, with or without the one-time data rules applied) is brought under
migrations by ``upgrade``: every item, tag, sighting and source kept, derived columns filled, the
models' schema exactly; a database that cannot be adopted is left as it was."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Engine
from test_api import polled_samples
from test_migrations import differences, revision_of
from test_migrations_run import Rows, columns_of, insert_rows, only
from test_store_copy import dump

from aggregator.db import make_engine
from aggregator.errors import SchemaVersionError
from aggregator.migrations import HEAD
from aggregator.migrations.baseline import baseline_metadata
from aggregator.migrations.run import upgrade

# Columns that releases before the first revision added later (with add_missing_columns),
# and the indexes on them; those releases had (site, published) and (bookmark_count) instead.
LATER = {
    "source": ("feed_language", "last_warning"),
    "item": ("page_hash", "site_key"),
    "sighting": ("entry_hash",),
}
LATER_INDEXES = (
    "ix_item_site_key_published",
    "ix_item_bookmarks_published",
    "ix_item_page",
    "ix_sighting_source_entry",
)
OLD_INDEXES = {
    "ix_item_site_published": "item (site, published)",
    "ix_item_bookmark_count": "item (bookmark_count)",
}
RULES = {"identity_rule": 2, "site_key_rule": 1}
SITE_KEY_COLLATION = (
    "SELECT collation_name FROM information_schema.columns WHERE table_name = 'item' "
    "AND column_name = 'site_key' AND table_schema = current_schema()"
)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rows]:
    with polled_samples(tmp_path_factory.mktemp("adopt")) as (engine, _config, _client):
        yield dump(engine)


@pytest.fixture
def bare(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url, create=False)
    yield engine
    engine.dispose()


def make_release(engine: Engine, rows: Rows, *, later_columns: bool) -> MetaData:
    """The schema and data of a release before migrations: without ``alembic_version``; without
    the ``LATER`` columns and with the old indexes unless ``later_columns`` (then the data rules
    are recorded in ``meta``, as that release did). Returns the schema it made."""
    made = baseline_metadata()
    with engine.begin() as conn:
        made.create_all(conn)
        if later_columns:
            conn.execute(made.tables["meta"].insert(), [{"key": k, "value": v} for k, v in RULES.items()])
        else:
            for name in LATER_INDEXES:
                conn.execute(text(f"DROP INDEX {name}"))
            for table, names in LATER.items():
                for name in names:
                    conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {name}"))
            for name, where in OLD_INDEXES.items():
                conn.execute(text(f"CREATE INDEX {name} ON {where}"))
    release = MetaData()
    release.reflect(engine)
    insert_rows(engine, release, rows)
    return release


@pytest.mark.parametrize("later_columns", [True, False], ids=["current-release", "first-release"])
def test_a_release_database_is_adopted_with_every_row(
    bare: Engine, samples: Rows, later_columns: bool
) -> None:
    release = make_release(bare, samples, later_columns=later_columns)
    with pytest.raises(SchemaVersionError, match="before schema migrations"):
        make_engine(bare.url.render_as_string(hide_password=False))

    done = upgrade(bare)

    assert (done.before.revision, done.before.has_tables, done.after) == (None, True, HEAD)
    assert done.adoption is not None
    added = {f"column {t}.{c}" for t, names in LATER.items() for c in names}
    assert (added <= set(done.adoption.added)) is not later_columns
    assert done.adoption.rules == ([] if later_columns else ["identity", "site keys"])
    assert revision_of(bare) == HEAD
    assert differences(bare) == []
    assert not set(OLD_INDEXES) & {i["name"] for i in inspect(bare).get_indexes("item")}
    after = dump(bare)
    kept = columns_of(release)
    assert only(after, kept) == only(samples, kept) | (
        {"meta": samples["meta"] + [{"key": k, "value": v} for k, v in RULES.items()]}
    )
    if bare.dialect.name == "postgresql":  # site keys compare as bytes, whoever added the column
        with bare.connect() as conn:
            assert conn.execute(text(SITE_KEY_COLLATION)).scalar() == "C"
    # what the rules derive is what a poll stores
    for name in ("site_key", "page_hash"):
        assert [r[name] for r in after["item"]] == [r[name] for r in samples["item"]]
    # sightings stored with their entry's guid are identified by it, as a poll identifies them
    with_guid = [
        (r["entry_hash"], o["entry_hash"])
        for r, o in zip(after["sighting"], samples["sighting"], strict=True)
        if r["guid"]
    ]
    assert with_guid and all(mine == theirs for mine, theirs in with_guid)


def test_a_database_that_cannot_be_adopted_is_left_as_it_was(bare: Engine, samples: Rows) -> None:
    make_release(bare, samples, later_columns=False)
    with bare.begin() as conn:
        conn.execute(text("ALTER TABLE item DROP COLUMN version"))  # NOT NULL: no release lacked it
    before = MetaData()
    before.reflect(bare)

    with pytest.raises(SchemaVersionError, match=r"lacks item\.version"):
        upgrade(bare)

    after = MetaData()
    after.reflect(bare)
    # item.page_hash was added and the old item indexes dropped before item.version was missed
    assert columns_of(after) == columns_of(before)
    assert set(OLD_INDEXES) <= {i["name"] for i in inspect(bare).get_indexes("item")}
    assert "alembic_version" not in after.tables
    kept = columns_of(before)
    assert dump(bare, kept)["source"] == only(samples, kept)["source"]
