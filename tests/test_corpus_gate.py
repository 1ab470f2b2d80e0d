"""The corpus tests run when ../shared is there, skip when it is not, and fail under CI=true when it is not.

The decision is a table; the end-to-end check runs pytest on the two corpus modules in a
subprocess with ``AGGREGATOR_CORPUS`` pointing at a folder that does not exist.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS_ENV, is_ci, missing_corpus_action

TESTS = Path(__file__).resolve().parent
CORPUS_MODULES = ["test_corpus_parse.py", "test_corpus_ingest.py"]


@pytest.mark.parametrize(
    ("present", "ci", "action"),
    [
        (True, None, None),
        (True, "true", None),
        (False, None, "skip"),
        (False, "", "skip"),
        (False, "false", "skip"),
        (False, "0", "skip"),
        (False, "true", "fail"),
        (False, "True", "fail"),
        (False, "1", "fail"),
        (False, "yes", "fail"),
    ],
)
def test_missing_corpus_action(present: bool, ci: str | None, action: str | None) -> None:
    assert missing_corpus_action(present, ci) == action


@pytest.mark.parametrize(("value", "expected"), [(None, False), ("", False), ("no", False), ("OFF", False)])
def test_is_ci_false_words(value: str | None, expected: bool) -> None:
    assert is_ci(value) is expected


def run_corpus_tests(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env[CORPUS_ENV] = str(tmp_path / "no-corpus-here")
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfs", *CORPUS_MODULES],
        cwd=TESTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_absent_corpus_fails_under_ci(tmp_path: Path) -> None:
    result = run_corpus_tests(tmp_path, "true")
    assert result.returncode == 1, result.stdout[-2000:]
    assert "feed corpus not found at" in result.stdout and "no-corpus-here" in result.stdout
    assert "under CI the corpus tests must run" in result.stdout
    summary = result.stdout.splitlines()[-1]
    assert "skipped" not in summary and "passed" not in summary, summary
    # Locally the same run skips: missing_corpus_action(False, None) == "skip" above.
