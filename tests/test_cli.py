"""The ``aggregator`` command as a subprocess: exit statuses of ``poll`` and what ``sources`` shows;
in process, a command on a broken database.

Every test runs the CLI against a real local HTTP server and a real SQLite file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from feedserver import FeedServer, Response
from filterdata import SOURCES, make_sources, write_posts
from procs import run_cli
from sqlmodel import SQLModel
from test_api import TestClient
from test_store_filtersql import POSTS

from aggregator import cli, cli_opml
from aggregator.api import create_app
from aggregator.config import load_config
from aggregator.db import make_engine

RSS = "application/rss+xml; charset=utf-8"


def rss(title: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://example.org/</link><description>d</description>"
        "<item><title>one</title><link>https://example.org/one</link>"
        "<pubDate>Mon, 05 Feb 2024 10:00:00 GMT</pubDate></item></channel></rss>"
    ).encode()


def write_config(path: Path, urls: list[str], *, private: bool = True) -> Path:
    lines = ["[poller]", f"allow_private_networks = {str(private).lower()}", ""]
    for url in urls:
        lines += ["[[sources]]", f'url = "{url}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        srv.reply("/ok.rss", Response(body=rss("ok"), headers={"Content-Type": RSS}))
        srv.reply("/missing.rss", Response(status=404, body=b"no"))
        yield srv


def test_poll_exits_0_when_sources_fail_and_3_with_fail_on_error(tmp_path: Path, server: FeedServer) -> None:
    config = write_config(tmp_path / "feeds.toml", [server.url("/ok.rss"), server.url("/missing.rss")])
    base = ["--config", str(config), "--db", f"sqlite:///{tmp_path / 'a.db'}", "poll", "--force"]

    plain = run_cli(base, cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert "1 failed" in plain.stdout

    strict = run_cli([*base, "--fail-on-error"], cwd=tmp_path)
    assert strict.returncode == 3, strict.stdout + strict.stderr
    assert "1 failed" in strict.stdout
    assert server.count("/missing.rss") == 2


def test_fail_on_error_exits_0_when_every_source_succeeded(tmp_path: Path, server: FeedServer) -> None:
    config = write_config(tmp_path / "feeds.toml", [server.url("/ok.rss")])
    db = f"sqlite:///{tmp_path / 'a.db'}"
    result = run_cli(["--config", str(config), "--db", db, "poll", "--fail-on-error"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
    assert server.count("/ok.rss") == 1


def test_fail_on_error_is_refused_with_loop(tmp_path: Path) -> None:
    config = write_config(tmp_path / "feeds.toml", ["http://127.0.0.1:9/feed.xml"])
    db = f"sqlite:///{tmp_path / 'a.db'}"
    result = run_cli(["--config", str(config), "--db", db, "poll", "--loop", "--fail-on-error"], cwd=tmp_path)
    assert result.returncode == 2
    assert "--fail-on-error applies to a single run" in result.stderr


def test_a_refused_private_source_names_the_setting_that_allows_it(
    tmp_path: Path, server: FeedServer
) -> None:
    literal = server.url("/ok.rss")  # http://127.0.0.1:port/ok.rss: refused before connecting
    named = literal.replace("127.0.0.1", "localhost")  # refused after DNS
    config = write_config(tmp_path / "feeds.toml", [literal, named], private=False)
    base = ["--config", str(config), "--db", f"sqlite:///{tmp_path / 'a.db'}"]

    polled = run_cli([*base, "poll"], cwd=tmp_path)
    assert polled.returncode == 0, polled.stderr
    listed = run_cli([*base, "sources"], cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr

    errors = [line for line in listed.stdout.splitlines() if "last error" in line]
    assert len(errors) == 2, listed.stdout
    for line in errors:
        assert "[blocked]" in line
        assert "allow_private_networks = true on this source" in line
        assert "[poller]" in line
    assert server.count() == 0


def test_a_source_dropped_from_the_config_is_listed_as_removed_and_not_polled(
    tmp_path: Path, server: FeedServer
) -> None:
    path = tmp_path / "feeds.toml"
    base = ["--config", str(path), "--db", f"sqlite:///{tmp_path / 'a.db'}"]
    write_config(path, [server.url("/ok.rss"), server.url("/missing.rss")])
    assert run_cli([*base, "poll"], cwd=tmp_path).returncode == 0
    write_config(path, [server.url("/ok.rss")])

    polled = run_cli([*base, "poll", "--force"], cwd=tmp_path)
    listed = run_cli([*base, "sources"], cwd=tmp_path).stdout

    assert "1 sources polled" in polled.stdout
    assert server.count("/missing.rss") == 1
    active, removed = listed.split("\n\n1 removed from the configuration")
    assert server.url("/ok.rss") in active and server.url("/missing.rss") not in active
    assert server.url("/missing.rss") in removed

    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with TestClient(create_app(engine, load_config(path))) as client:
            api = client.get("/api/sources").json()
    finally:
        engine.dispose()
    by_url = {s["url"]: s for s in api}
    assert by_url[server.url("/ok.rss")]["removed"] is False
    assert by_url[server.url("/missing.rss")]["removed"] is True
    assert by_url[server.url("/missing.rss")]["next_poll_at"] is None
    assert [s["removed"] for s in api] == [False, True]  # active sources first


def test_a_poll_line_says_what_a_recovered_feed_lost(tmp_path: Path, server: FeedServer) -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    body += b"<item><title>kept</title><link>https://example.org/1</link></item>"
    body += b"<item><title>cut</title><link>https://exa"
    server.reply("/cut.rss", Response(200, body, [("Content-Type", "application/rss+xml")]))
    path = tmp_path / "feeds.toml"
    write_config(path, [server.url("/cut.rss")])
    polled = run_cli(["--config", str(path), "--db", f"sqlite:///{tmp_path / 'c.db'}", "poll"], cwd=tmp_path)
    assert polled.returncode == 0, polled.stderr
    line = next(x for x in polled.stdout.splitlines() if "new" in x and "1 new" in x)
    assert "truncated" in line and "kept 1 of 2" in line


@pytest.mark.parametrize(
    "command",
    [
        ["sources"],
        ["sources", "--json"],
        ["items", "--tag", "k8s"],
        ["export-opml"],
        ["import-opml", "subs.opml"],
        ["poll"],
    ],
)
def test_a_command_on_a_broken_database_exits_1_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """The store's StorageError reaches the CLI's one-line message, whichever command met it."""
    broken = make_engine(f"sqlite:///{tmp_path / 'broken.db'}")
    SQLModel.metadata.drop_all(broken)  # opened fine, then its tables went away
    for module in (cli, cli_opml):
        monkeypatch.setattr(module, "make_engine", lambda *args, **kwargs: broken)
    monkeypatch.chdir(tmp_path)
    opml = '<opml version="2.0"><body><outline type="rss" text="a" xmlUrl="https://a.example/feed"/></body></opml>'
    (tmp_path / "subs.opml").write_text(opml, encoding="utf-8")
    config = write_config(tmp_path / "feeds.toml", ["https://a.example/feed"])
    try:
        status = cli.main(["--config", str(config), "--db", "sqlite:///unused.db", *command])
    finally:
        broken.dispose()
    out, err = capsys.readouterr()
    assert status == 1, out + err
    assert err.startswith("aggregator: storage error: no such table:"), err
    assert len(err.splitlines()) == 1, err


def test_items_takes_a_filter_query(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    engine = make_engine(url)
    try:
        write_posts(engine, make_sources(engine), POSTS)
    finally:
        engine.dispose()
    config = write_config(tmp_path / "feeds.toml", [c.url for c in SOURCES.values()])
    base = ["--config", str(config), "--db", url, "items"]
    listed = run_cli([*base, "tag:kubernetes -tag:helm"], cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    titles = [line.split("  ", 1)[1] for line in listed.stdout.splitlines() if line[:4].isdigit()]
    assert [t.split(" [")[0] for t in titles] == ["Kubernetes入門", "Old news"]
    assert "filtered by “tag:kubernetes -tag:helm”" in listed.stdout.splitlines()[-1]
    negated = run_cli([*base, "--site", "deeeet.com", "--", "-tag:helm"], cwd=tmp_path)  # sugar ANDs
    assert negated.returncode == 0 and "Kubernetes入門" in negated.stdout and "Helm" not in negated.stdout


def test_a_bad_filter_query_shows_a_caret_and_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path / "feeds.toml", [])
    done = run_cli(
        ["--config", str(config), "--db", f"sqlite:///{tmp_path / 'e.db'}", "items", "入門 (tag:k8s OR"],
        cwd=tmp_path,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "aggregator: bad filter: expected a term after 'OR' (at character 14)",
        "入門 (tag:k8s OR",
        " " * 16 + "^",  # the end (14 characters), two columns for each Japanese character
    ]
