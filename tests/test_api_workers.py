"""``aggregator serve --workers N``: several server processes on one database answer
a feed with the same bytes and ETag, and all move to the same new ETag after a write."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from feedserver import FeedServer
from procs import cli_command, cli_env, free_port
from sqlalchemy import text
from test_api import DEMO_BASE, DEMO_CONFIG, poll, serve_samples

from aggregator.config import load_config
from aggregator.db import make_engine
from aggregator.store.common import bump_data_version, transaction

FEED = "/feeds/tag/kubernetes.atom"


def answers(base: str, count: int = 16) -> set[tuple[str, bytes]]:
    """What ``count`` readers, each on a new connection, are sent."""
    seen = set()
    for _ in range(count):
        with httpx.Client(base_url=base, timeout=10) as reader:
            response = reader.get(FEED)
            assert response.status_code == 200
            seen.add((response.headers["etag"], response.content))
    return seen


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    config = tmp_path / "feeds.toml"
    body = DEMO_CONFIG.read_text("utf-8")
    if not db_url.startswith("sqlite"):
        body += "\n[server]\nversion_interval = 0\n"  # every request reads the version (no waiting here)
    with FeedServer() as srv:
        serve_samples(srv, extras=False)
        config.write_text(body.replace(DEMO_BASE, srv.base_url), "utf-8")
        engine = make_engine(db_url)
        try:
            poll(engine, load_config(config))
        finally:
            engine.dispose()
    port = free_port()
    args = ["--config", str(config), "--db", db_url, "serve", "--port", str(port), "--workers", "2"]
    # A session of its own: the workers are the supervisor's children, and go with it.
    process = subprocess.Popen(
        cli_command(*args), cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # each worker imports the app: slow on a loaded machine
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                pytest.fail(f"serve --workers 2 did not start: {process.communicate(timeout=30)[0][-2000:]}")
            time.sleep(0.05)
        yield base, db_url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=30)


def test_workers_answer_alike_before_and_after_a_write(served: tuple[str, str]) -> None:
    base, db_url = served
    before = answers(base)
    assert len(before) == 1
    engine = make_engine(db_url)
    try:
        with transaction(engine) as conn:
            conn.execute(text("UPDATE item SET title = 'Seen by every worker', version = version + 1"))
            bump_data_version(conn)
    finally:
        engine.dispose()
    after = answers(base)
    assert len(after) == 1
    ((etag, content),) = after
    assert etag != next(iter(before))[0]
    assert b"Seen by every worker" in content


def test_workers_must_be_a_sensible_number(tmp_path: Path) -> None:
    from procs import run_cli

    result = run_cli(["--db", f"sqlite:///{tmp_path / 'x.db'}", "serve", "--workers", "0"], cwd=tmp_path)
    assert result.returncode == 2
    assert "--workers" in result.stderr and "1 to 64" in result.stderr
