"""Engines: a PostgreSQL URL without the psycopg driver is a StorageError saying how to install it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from procs import cli_env

from aggregator.db import make_engine
from aggregator.errors import StorageError

PG = "postgresql://aggregator:s3cret-pw@127.0.0.1:1/aggregator"
INSTALL = "pip install -e '.[postgres]'"


def test_missing_psycopg_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now raises ImportError
    with pytest.raises(StorageError) as caught:
        make_engine(PG)
    message = str(caught.value)
    assert "psycopg" in message
    assert INSTALL in message
    assert f"{sys.executable} -m pip install 'psycopg[binary]" in message
    assert "s3cret-pw" not in message


def test_cli_without_psycopg_exits_1_with_the_pip_command(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from aggregator.cli import main\n"
        f"sys.exit(main(['--db', {PG!r}, 'sources']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("aggregator: storage error: PostgreSQL needs the psycopg driver")
    assert INSTALL in result.stderr
