"""``migrations``: a new database is made at the head revision, exactly the models' schema; a
database at another revision, or made before migrations, is refused with the command to run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from procs import cli_env
from sqlalchemy import Column, Integer, MetaData, String, Table, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import SQLModel

from aggregator.db import make_engine
from aggregator.errors import SchemaVersionError
from aggregator.migrations import HEAD
from aggregator.migrations.run import SCRIPTS, script_directory

VERSIONS = Path(SCRIPTS) / "versions"


def differences(engine: Engine, metadata: MetaData = SQLModel.metadata) -> list[object]:
    """What Alembic's autogenerate would write to bring the database to ``metadata`` (nothing: equal)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def revision_of(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_head_names_the_one_newest_revision() -> None:
    assert script_directory().get_heads() == [HEAD]


def test_each_revision_file_is_named_by_its_revision() -> None:
    files = sorted(p.name for p in VERSIONS.glob("*.py") if p.name != "__init__.py")
    revisions = {s.revision: Path(s.path).name for s in script_directory().walk_revisions()}
    assert files == sorted(revisions.values())
    assert all(re.fullmatch(rf"{rev}_[a-z0-9_]+\.py", name) for rev, name in revisions.items())


def test_a_new_database_is_made_at_the_head_with_the_models_schema(engine: Engine) -> None:
    assert revision_of(engine) == HEAD
    assert differences(engine) == []


def test_the_comparison_sees_a_column_the_models_lack(engine: Engine) -> None:
    extra = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(extra)
    Table("source", extra, Column("lease_token", String(64)), extend_existing=True)
    Table("hits", extra, Column("id", Integer, primary_key=True))
    found = differences(engine, extra)
    assert [d[0] for d in found if isinstance(d, tuple)] == ["add_table", "add_column"]


@pytest.mark.parametrize("version", [None, "9999"])
def test_a_database_at_another_revision_is_refused_with_the_command(db_url: str, version: str | None) -> None:
    made = make_engine(db_url)
    with made.begin() as conn:
        conn.execute(text("DELETE FROM alembic_version"))
        if version is None:
            conn.execute(text("DROP TABLE alembic_version"))
        else:
            conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": version})
    made.dispose()
    with pytest.raises(SchemaVersionError) as caught:
        make_engine(db_url)
    message = str(caught.value)
    assert "`aggregator db upgrade`" in message
    assert make_url(db_url).render_as_string(hide_password=True) in message
    assert ("before schema migrations" in message) is (version is None)
    assert (f"revision {version}" in message) is (version is not None)


def test_reopening_a_database_at_the_head_changes_nothing(db_url: str) -> None:
    first = make_engine(db_url)
    with first.begin() as conn:
        conn.execute(text("INSERT INTO tag (name, display) VALUES ('k8s', 'K8s')"))
    first.dispose()
    again = make_engine(db_url)
    with again.connect() as conn:
        assert conn.execute(text("SELECT name, display FROM tag")).all() == [("k8s", "K8s")]
    assert revision_of(again) == HEAD
    again.dispose()


def test_opening_a_database_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    script = (
        "import sys\nfrom aggregator.db import make_engine\n"
        f"make_engine({url!r}).dispose()\n"  # created at the head
        f"make_engine({url!r}).dispose()\n"  # opened at the head
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=cli_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
