"""``migrations.new``: the next revision is written with what the models have and the head lacks,
in plain SQLAlchemy types, numbered after the head, and ``HEAD`` moves to it."""

from __future__ import annotations

import shutil
from pathlib import Path

from alembic.script import ScriptDirectory

from aggregator.migrations.new import write_revision
from aggregator.migrations.run import SCRIPTS

DROP_LEASE = '''"""A head that lacks source.lease_owner."""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("source") as batch:
        batch.drop_column("lease_owner")
'''


def copy_scripts(tmp_path: Path) -> Path:
    scripts = tmp_path / "migrations"
    shutil.copytree(SCRIPTS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "__init__.py").write_text('HEAD = "0002"\n', encoding="utf-8")
    (scripts / "versions" / "0002_drop_lease.py").write_text(DROP_LEASE, encoding="utf-8")
    return scripts


def test_the_next_revision_adds_what_the_head_lacks(tmp_path: Path) -> None:
    scripts = copy_scripts(tmp_path)

    written = write_revision("lease owner again", scripts)

    assert written == scripts / "versions" / "0003_lease_owner_again.py"
    text = written.read_text(encoding="utf-8")
    assert "down_revision: str | None = '0002'" in text
    assert "batch_op.add_column(sa.Column('lease_owner', sa.String(length=64), nullable=True))" in text
    assert "aggregator" not in text and "sqlmodel" not in text
    assert ScriptDirectory(str(scripts)).get_heads() == ["0003"]
    assert (scripts / "__init__.py").read_text(encoding="utf-8") == 'HEAD = "0003"\n'
