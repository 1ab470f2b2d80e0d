"""``aggregator token``: a token is printed once, with a feed URL that opens the private output;
the database and ``token list`` never hold it; ``revoke`` closes the output to it at once."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from aggregator.api import create_app
from aggregator.cli import main
from aggregator.config import load_config
from aggregator.models import AccessToken, table_of

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = table_of(AccessToken)
CONFIG = """
[[outputs]]
slug = "reading-list"
title = "My reading list"
private = true

[[outputs]]
slug = "everyone"
title = "Everyone's"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_create_prints_the_token_once_and_list_never_shows_it(
    config: Path, db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("--config", str(config), "--db", db_url)
    status, out, _ = run(
        capsys, *base, "token", "create", "--output", "reading-list", "--base-url", "https://f.example/"
    )
    assert status == 0
    token = out.splitlines()[1].strip()
    assert f"https://f.example/feeds/reading-list.atom?token={token}" in out
    assert len(token) >= 40
    _, second, _ = run(capsys, *base, "token", "create", "--output", "reading-list")
    assert second.splitlines()[1].strip() != token
    status, listing, _ = run(capsys, *base, "token", "list")
    assert status == 0 and token not in listing
    line = r"^\[\d+\] reading-list  created \S+ \S+  last used never$"
    assert len(re.findall(line, listing, re.M)) == 2
    with engine.connect() as conn:
        stored = [list(row) for row in conn.execute(select(TOKEN))]
    assert stored and not any(token in str(value) for row in stored for value in row)


def test_the_printed_url_opens_the_output_until_the_token_is_revoked(
    config: Path, db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("--config", str(config), "--db", db_url)
    _, out, _ = run(capsys, *base, "token", "create", "--output", "reading-list")
    token_id = out.split()[1]
    url = out.split("feed URL: ")[1].split()[0].removeprefix("http://127.0.0.1:8000")
    with TestClient(create_app(engine, load_config(config))) as client:
        opened = client.get(url)
        assert run(capsys, *base, "token", "revoke", token_id)[0] == 0
        closed = client.get(url)
    assert opened.status_code == 200 and "My reading list" in opened.text
    assert closed.status_code == 404
    status, _, err = run(capsys, *base, "token", "revoke", token_id)
    assert status == 2 and f"no token {token_id}" in err


@pytest.mark.parametrize("slug", ["everyone", "nowhere"])
def test_create_refuses_an_output_that_is_not_private(
    config: Path, db_url: str, capsys: pytest.CaptureFixture[str], slug: str
) -> None:
    status, out, err = run(
        capsys, "--config", str(config), "--db", db_url, "token", "create", "--output", slug
    )
    assert status == 2 and out == ""
    assert f"{slug!r} is not a private output (private outputs: reading-list)" in err
