"""``cli_observe`` through the real command: the textfile a cron ``aggregator poll`` writes, JSON
log lines (one per source per poll, no credentials), and ``poll --loop --metrics-port``. Each
runs ``aggregator`` as a subprocess against feeds on a local server and an SQLite file."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from feedserver import FeedServer
from metricscheck import Samples, parse_metrics, scrape, value
from procs import cli_command, cli_env, free_port

FEEDS = {"/a.rss": 2, "/b.rss": 1}  # path: items in it
SECRET_PATH = "/private.rss"  # reached with user:pass@ and a token, as some private feeds are
RSS = "application/rss+xml"


def rss(path: str, items: int) -> bytes:
    entries = "".join(
        f"<item><title>{n}</title><link>https://example.org{path}/{n}</link></item>" for n in range(items)
    )
    return f'<rss version="2.0"><channel><title>t</title><link>https://example.org/</link>{entries}</channel></rss>'.encode()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        for path, items in FEEDS.items():
            srv.route(path, rss(path, items), content_type=RSS)
        srv.route(SECRET_PATH, rss(SECRET_PATH, 1), content_type=RSS)
        yield srv


def write_config(directory: Path, urls: list[str]) -> Path:
    lines = ["[poller]", "allow_private_networks = true", ""]
    for url in urls:
        lines += ["[[sources]]", f'url = "{url}"', ""]
    path = directory / "feeds.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def aggregator(
    directory: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    config, db = directory / "feeds.toml", f"sqlite:///{directory / 'a.db'}"
    return subprocess.run(
        cli_command("--config", str(config), "--db", db, *args),
        cwd=directory, env=cli_env() | (env or {}), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_cron_polls_add_up_in_the_textfile(tmp_path: Path, server: FeedServer) -> None:
    write_config(tmp_path, [server.url(p) for p in [*FEEDS, "/missing.rss"]])
    textfile = tmp_path / "textfile" / "aggregator.prom"
    textfile.parent.mkdir()
    env = {"AGGREGATOR_METRICS_TEXTFILE": str(textfile)}
    first = aggregator(tmp_path, "poll", env=env)
    assert first.returncode == 0, first.stderr
    once = parse_metrics(textfile.read_text(encoding="utf-8"))
    second = aggregator(tmp_path, "poll", "--force", env=env)
    assert second.returncode == 0, second.stderr
    twice = parse_metrics(textfile.read_text(encoding="utf-8"))

    new, failed = {"outcome": "new", "category": ""}, {"outcome": "error", "category": "http_4xx"}
    assert value(once, "aggregator_polls_total", new) == len(FEEDS)
    assert value(once, "aggregator_polls_total", failed) == 1
    assert value(once, "aggregator_items_new_total") == sum(FEEDS.values())
    assert value(twice, "aggregator_polls_total", new) == len(FEEDS)  # nothing new the second time
    assert value(twice, "aggregator_polls_total", {"outcome": "unchanged", "category": ""}) == len(FEEDS)
    assert value(twice, "aggregator_polls_total", failed) == 2
    assert value(twice, "aggregator_poll_runs_total", {"result": "ran"}) == 2
    last_runs = [value(s, "aggregator_poll_last_run_timestamp_seconds") or 0 for s in (once, twice)]
    assert 0 < last_runs[0] <= last_runs[1]


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_json_logs_one_line_per_source_without_credentials(
    tmp_path: Path, server: FeedServer, how: str
) -> None:
    secret_url = server.url(SECRET_PATH).replace("://", "://alice:hunter2@") + "?token=s3cr3t&lang=ja"
    write_config(tmp_path, [server.url("/a.rss"), secret_url])
    if how == "flag":
        result = aggregator(tmp_path, "--log-format", "json", "poll")
    else:
        result = aggregator(tmp_path, "poll", env={"AGGREGATOR_LOG_FORMAT": "json"})
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    polled = {line["source_id"]: line for line in lines if "source_id" in line}
    assert len(polled) == 2
    line = next(x for x in polled.values() if SECRET_PATH in x["url"])
    assert line["url"] == server.url(SECRET_PATH).replace("://", "://***@") + "?token=***&lang=ja"
    assert (line["outcome"], line["status"], line["items_new"], line["items_updated"]) == ("new", 200, 1, 0)
    assert line["error_category"] is None and line["duration_ms"] >= 0
    assert line["level"] == "info" and line["logger"] == "aggregator.poller"
    for secret in ("hunter2", "s3cr3t"):
        assert secret not in result.stderr and secret not in result.stdout
    # the server did get the credentials: only the logs leave them out
    assert server.requests_to(SECRET_PATH)[0].header("authorization")


def test_an_unknown_log_format_in_the_environment_is_a_configuration_error(tmp_path: Path) -> None:
    write_config(tmp_path, [])
    result = aggregator(tmp_path, "poll", env={"AGGREGATOR_LOG_FORMAT": "xml"})
    assert result.returncode == 2
    assert "AGGREGATOR_LOG_FORMAT" in result.stderr


def test_metrics_port_is_for_the_loop(tmp_path: Path) -> None:
    write_config(tmp_path, [])
    result = aggregator(tmp_path, "poll", "--metrics-port", str(free_port()))
    assert result.returncode == 2
    assert "--metrics-port applies to --loop" in result.stderr


def test_a_metrics_port_in_use_is_a_configuration_error(tmp_path: Path) -> None:
    write_config(tmp_path, [])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = aggregator(tmp_path, "poll", "--loop", "--metrics-port", str(port))
    assert result.returncode == 2
    assert f"--metrics-port {port} on 127.0.0.1" in result.stderr and "Traceback" not in result.stderr


def test_the_loop_serves_its_metrics_on_loopback(tmp_path: Path, server: FeedServer) -> None:
    write_config(tmp_path, [server.url(p) for p in FEEDS])
    port = free_port()
    config, db = tmp_path / "feeds.toml", f"sqlite:///{tmp_path / 'a.db'}"
    process = subprocess.Popen(
        cli_command("--config", str(config), "--db", db, "poll", "--loop", "--metrics-port", str(port)),
        cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        samples = wait_for_polls(f"http://127.0.0.1:{port}/metrics", len(FEEDS), process)
        assert value(samples, "aggregator_items_new_total") == sum(FEEDS.values())
        assert "process_cpu_seconds_total" in {name for name, _ in samples}
        with pytest.raises(httpx.TransportError):  # bound to 127.0.0.1 only
            httpx.get(f"http://127.0.0.2:{port}/metrics", timeout=2)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"metrics on http://127.0.0.1:{port}/metrics" in out


def wait_for_polls(url: str, expected: int, process: subprocess.Popen[str]) -> Samples:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        with contextlib.suppress(httpx.TransportError):
            samples = scrape(url)
            if value(samples, "aggregator_polls_total", {"outcome": "new", "category": ""}) == expected:
                return samples
        time.sleep(0.1)
    pytest.fail("the loop's metrics never showed its polls")
