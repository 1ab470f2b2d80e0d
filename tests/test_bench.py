"""The benchmark scripts start: every ``--help``, and a tiny run of the poll comparisons.

No figure is checked (docs/benchmarks.md has them): only that each script runs to its end on
five feeds and prints its table. The reader comparison is skipped where lemon24/reader (the
``bench`` extra) is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = [
    "poll",
    "store",
    "slices",
    "serve",
    "startup",
    "compare_reader",
    "warm_poll",
    "websub_latency",
    "paging",
]


def _run(script: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    return subprocess.run(
        [sys.executable, str(BENCH / f"{script}.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script: str) -> None:
    done = _run(script, "--help", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


@pytest.mark.slow
def test_warm_poll_tiny_run() -> None:
    done = _run("warm_poll", "--feeds", "5", "--runs", "1", timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "whole process (median)" in done.stdout
    assert "not every request was answered 304" not in done.stdout


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("reader") is None, reason="needs the bench extra (reader)")
def test_compare_reader_tiny_run() -> None:
    done = _run("compare_reader", "--feeds", "5", "--runs", "1", timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "cold, whole process" in done.stdout
    assert "KB/item above idle" in done.stdout
