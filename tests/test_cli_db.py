"""``aggregator db``: ``current`` and ``upgrade`` say where a database stands and bring it to the
head; the other commands refuse a database that needs the upgrade (exit 2, the command named);
``copy`` moves the polled samples from SQLite into PostgreSQL, which then serves the same bytes
and polls on with new ids."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from feedserver import FeedServer
from oldschema import drop_later_schema
from procs import run_cli
from sqlalchemy import text
from sqlalchemy.engine import Engine
from test_api import client_for, polled_samples
from test_store_copy import dump

from aggregator.cli import main
from aggregator.config import parse_config
from aggregator.db import make_engine
from aggregator.migrations import HEAD
from aggregator.poller import Poller

ROUTES = (
    "/",
    "/feeds/tag/kubernetes.atom",
    "/feeds/tag/k8s.rss",
    "/feeds/site/deeeet.com.json",
    "/api/sources",
)
FRESH_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>fresh</title><link>https://fresh.example/</link>
<item><title>one</title><link>https://fresh.example/1</link><guid>f1</guid></item>
<item><title>two</title><link>https://fresh.example/2</link><guid>f2</guid></item>
</channel></rss>"""


def unversioned(url: str) -> None:
    """A database as the release before migrations left it: tables and rows, no alembic_version."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO tag (name, display) VALUES ('k8s', 'K8s')"))
        conn.execute(text("DROP TABLE alembic_version"))
        drop_later_schema(conn)
    engine.dispose()


@pytest.mark.parametrize(
    "command",
    [["poll"], ["serve", "--port", "9"], ["items", "--tag", "k8s"], ["sources"]],
    ids=lambda c: c[0],
)
def test_commands_refuse_a_database_that_needs_the_upgrade(tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "old.db"
    unversioned(f"sqlite:///{db}")
    (tmp_path / "feeds.toml").write_text("", encoding="utf-8")
    result = run_cli(["--config", "feeds.toml", "--db", f"sqlite:///{db}", *command], cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "made by a release before schema migrations: run `aggregator db upgrade`" in result.stderr


def test_current_and_upgrade_say_where_the_database_stands(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = db_url.replace("postgres@", "postgres:s3cret-pw@")
    unversioned(url)
    assert main(["--db", url, "db", "current"]) == 0
    assert (
        "- unversioned, made before schema migrations: run `aggregator db upgrade`" in capsys.readouterr().out
    )
    assert main(["--db", url, "db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert f"unversioned -> {HEAD} (adopted: " in out
    assert main(["--db", url, "db", "current"]) == 0
    assert main(["--db", url, "db", "upgrade"]) == 0
    current, again = capsys.readouterr().out.splitlines()
    assert current.endswith(f": {HEAD} at head") and again.endswith(f": {HEAD}, already at head")
    assert "s3cret-pw" not in out + current + again
    engine = make_engine(url)  # every command opens it again
    with engine.connect() as conn:
        assert conn.execute(text("SELECT display FROM tag")).scalars().all() == ["K8s"]
    engine.dispose()


def test_an_empty_database_is_created_by_upgrade(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", sqlite_url, "db", "current"]) == 0
    assert f"- empty: any command creates it at head ({HEAD})" in capsys.readouterr().out
    assert main(["--db", sqlite_url, "db", "upgrade"]) == 0
    assert capsys.readouterr().out.endswith(f": empty -> {HEAD}\n")


@pytest.mark.postgres
def test_copy_moves_sqlite_into_postgresql(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with polled_samples(tmp_path) as (sqlite, config, sqlite_client):
        sqlite_url = sqlite.url.render_as_string(hide_password=False)
        assert main(["db", "copy", "--from", sqlite_url, "--to", pg_url, "--batch", "10"]) == 0
        original = dump(sqlite)
        served = {route: sqlite_client.get(route) for route in ROUTES}
    out = capsys.readouterr().out
    assert f"empty -> {HEAD}" in out
    assert f"item: {len(original['item'])} rows" in out
    postgres = make_engine(pg_url)
    try:
        assert dump(postgres) == original
        with client_for(postgres, config) as client:
            for route, expected in served.items():
                response = client.get(route)
                assert (response.status_code, response.content) == (expected.status_code, expected.content)
                assert response.headers.get("etag") == expected.headers.get("etag")
        polled_further(postgres, original)

        # the target has rows now: refused, unless --replace (then it holds the copy again)
        assert main(["db", "copy", "--from", sqlite_url, "--to", pg_url]) == 2
        assert re.search(r"has rows \((.*, )?item [0-9]+", capsys.readouterr().err)
        assert main(["db", "copy", "--from", sqlite_url, "--to", pg_url, "--replace"]) == 0
        assert dump(postgres) == original
    finally:
        postgres.dispose()


def polled_further(engine: Engine, original: dict[str, list[dict[str, object]]]) -> None:
    """Poll a new feed into the copy: its source, items and tag take new ids."""
    with FeedServer() as srv:
        srv.route("/fresh.rss", FRESH_RSS, content_type="application/rss+xml")
        config = parse_config(
            {
                "sources": [{"url": srv.base_url + "/fresh.rss", "tags": ["fresh"]}],
                "poller": {"allow_private_networks": True},
            }
        )
        report = asyncio.run(Poller(engine, config).run_once(force=True))
    assert [o.status for o in report.outcomes] == ["new"], report.summary()
    after = dump(engine)
    for table in ("item", "source", "tag"):
        old = {r["id"] for r in original[table]}
        new = [r["id"] for r in after[table] if r["id"] not in old]
        assert new and min(new) > max(old), table
    assert len(after["item"]) == len(original["item"]) + 2


def test_copy_refuses_the_same_database_and_a_source_behind(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "copy", "--from", sqlite_url, "--to", sqlite_url]) == 2
    assert "name the same database" in capsys.readouterr().err
    old = f"sqlite:///{tmp_path / 'old.db'}"
    unversioned(old)
    assert main(["db", "copy", "--from", old, "--to", sqlite_url]) == 2
    assert "run `aggregator --db URL db upgrade` on it first" in capsys.readouterr().err
