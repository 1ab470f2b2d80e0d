"""``aggregator demo``: run as a newcomer runs it, then the commands it prints, on the demo's data.

The demo is the installed ``aggregator`` script in a subprocess, in a fresh
working directory, serving the bundled samples on free loopback ports.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from procs import cli_env, free_port

from aggregator.config import Config, SourceConfig
from aggregator.demo import DEMO_CONFIG, sample_moves

SCRIPT = Path(sys.executable).parent / "aggregator"
SAMPLE_SOURCES = 8  # feeds/demo.toml


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=120, check=False
    )


def run_demo(cwd: Path, samples_port: int) -> list[str]:
    """Run the demo without serving; return the commands it says to use next."""
    result = run([str(SCRIPT), "demo", "--no-serve", "--samples-port", str(samples_port)], cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return [line.strip() for line in result.stdout.splitlines() if line.strip().startswith(str(SCRIPT))]


def sources_json(command: str, cwd: Path) -> list[dict[str, object]]:
    result = run([*shlex.split(command), "--json"], cwd)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="module")
def commands(demo_dir: Path) -> list[str]:
    return run_demo(demo_dir, free_port())


def test_demo_prints_commands_with_its_config_and_database(commands: list[str]) -> None:
    assert [shlex.split(c)[5:] for c in commands] == [
        ["sources"],
        ["items", "--tag", "k8s", "--min-bookmarks", "50"],
        ["serve"],
    ]
    for command in commands:
        words = shlex.split(command)
        assert words[1:5] == ["--config", str(DEMO_CONFIG), "--db", "sqlite:///aggregator-demo.db"]


def test_printed_sources_and_items_commands_read_the_demo_data(demo_dir: Path, commands: list[str]) -> None:
    sources, items, _ = commands
    rows = sources_json(sources, demo_dir)
    assert len(rows) == SAMPLE_SOURCES
    assert sum(int(str(r["items"])) for r in rows) > 0
    listed = run(shlex.split(items), demo_dir)
    assert listed.returncode == 0, listed.stderr
    shown = re.match(r"(\d+) items? ", listed.stdout.splitlines()[-1])
    assert shown and int(shown.group(1)) > 0, listed.stdout
    assert not (demo_dir / "aggregator.db").exists()  # the default database was never touched


def test_printed_serve_command_serves_the_demo_data(demo_dir: Path, commands: list[str]) -> None:
    port = free_port()
    server = subprocess.Popen(
        [*shlex.split(commands[2]), "--port", str(port)],
        cwd=demo_dir,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/sources", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert len(response.json()) == SAMPLE_SOURCES
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_another_samples_port_moves_the_sources_instead_of_adding_them(demo_dir: Path) -> None:
    first = sources_json(run_demo(demo_dir, free_port())[0], demo_dir)
    port = free_port()
    second = sources_json(run_demo(demo_dir, port)[0], demo_dir)

    assert len(second) == SAMPLE_SOURCES
    assert all(r["enabled"] for r in second)
    assert all(str(r["url"]).startswith(f"http://127.0.0.1:{port}/") for r in second)
    assert [(r["id"], r["items"]) for r in second] == [(r["id"], r["items"]) for r in first]


def config_of(*urls: str) -> Config:
    return Config(path=None, sources=tuple(SourceConfig(u) for u in urls))


@pytest.mark.parametrize(
    ("known", "configured", "expected"),
    [
        (
            ["http://127.0.0.1:8001/a.rss"],
            ["http://127.0.0.1:9001/a.rss"],
            {"http://127.0.0.1:8001/a.rss": "http://127.0.0.1:9001/a.rss"},
        ),
        (["http://127.0.0.1:9001/a.rss"], ["http://127.0.0.1:9001/a.rss"], {}),
        (["http://127.0.0.1:8001/a.rss"], ["http://127.0.0.1:9001/b.rss"], {}),
        (["https://example.org/a.rss"], ["http://127.0.0.1:9001/a.rss"], {}),
        (
            ["http://127.0.0.1:8001/a.rss", "http://127.0.0.1:8002/a.rss"],
            ["http://127.0.0.1:9001/a.rss"],
            {"http://127.0.0.1:8001/a.rss": "http://127.0.0.1:9001/a.rss"},
        ),
    ],
)
def test_sample_moves(known: list[str], configured: list[str], expected: dict[str, str]) -> None:
    assert sample_moves(known, config_of(*configured)) == expected
