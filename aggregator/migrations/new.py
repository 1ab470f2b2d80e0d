"""Write the next revision: ``python -m aggregator.migrations.new "add lease columns"``.

It upgrades a scratch SQLite database to the head, lets Alembic's autogenerate compare it
with the models, writes ``versions/NNNN_<slug>.py`` with the operations found, and moves
``HEAD`` in ``migrations/__init__.py`` to it. Read the file before committing: autogenerate
sees tables, columns, types, nullability and indexes, not renames (a rename comes out as a
drop and an add) nor data to move; PostgreSQL-only details (a collation, a full-text index)
are written by hand, with ``op.get_bind().dialect.name`` where SQLite differs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from .run import SCRIPTS, alembic_config, migration_transaction

HEAD_LINE = re.compile(r'^HEAD = "(\d+)"$', re.MULTILINE)


def write_revision(message: str, scripts: Path = SCRIPTS) -> Path:
    """The new revision's file, written under ``scripts/versions``; ``HEAD`` names it."""
    head = ScriptDirectory(str(scripts)).get_current_head()
    revision = f"{int(head or 0) + 1:04d}"
    engine = create_engine("sqlite://", poolclass=StaticPool)
    try:
        with migration_transaction(engine) as conn:
            config = alembic_config(conn)
            config.set_main_option("script_location", str(scripts))
            command.upgrade(config, "head")
            command.revision(config, message=message, autogenerate=True, rev_id=revision)
    finally:
        engine.dispose()
    init = scripts / "__init__.py"
    init.write_text(HEAD_LINE.sub(f'HEAD = "{revision}"', init.read_text(encoding="utf-8")), encoding="utf-8")
    written = ScriptDirectory(str(scripts)).get_revision(revision)
    assert written is not None and written.path is not None
    return Path(written.path)


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) != 2:
        raise SystemExit('usage: python -m aggregator.migrations.new "what the revision does"')
    print(write_revision(sys.argv[1]))
