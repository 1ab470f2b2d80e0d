"""The import-linter contracts in pyproject.toml ([tool.importlinter]) hold: layers point one way."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lint_imports() -> subprocess.CompletedProcess[str]:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    return subprocess.run([command, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_import_contracts_are_kept(lint_imports: subprocess.CompletedProcess[str]) -> None:
    assert lint_imports.returncode == 0, lint_imports.stdout + lint_imports.stderr
    assert "0 broken" in lint_imports.stdout


@pytest.mark.parametrize("name", ["Layers point one way", "Storage takes records", "Pure modules"])
def test_each_contract_is_checked(lint_imports: subprocess.CompletedProcess[str], name: str) -> None:
    lines = lint_imports.stdout.splitlines()
    assert any(line.startswith(name) and line.endswith("KEPT") for line in lines)
