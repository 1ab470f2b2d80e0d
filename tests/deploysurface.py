"""What the files in deploy/ rely on, read from the application and the image: the HTTP routes of
``create_app``, the command line of ``aggregator.cli``, and the facts of deploy/Containerfile (user,
environment, port, entry point). The tests of deploy/ (test_deploy*.py) check their files against these.

``EXPECTED_FROM_PARALLEL_WORK`` names the parts of the application's surface that the deployment
files use ahead of the application: the readiness and metrics routes and the ``db`` command and
``serve --workers`` of the PostgreSQL scale-out. While one of them is missing from the application,
a use of it is accepted (and ``test_deploy.py`` reports it as a skip); emptying the set makes every
check strict.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import create_engine
from starlette.routing import Match

from aggregator.api import create_app
from aggregator.cli import build_parser
from aggregator.config import load_config

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
IMAGE = f"aggregator:{VERSION}"

EXPECTED_FROM_PARALLEL_WORK = frozenset({"/readyz", "/metrics", "db", "--workers"})
# The routes the deployment files name: probes, health checks, scraping, the feed users read.
LIVENESS, READINESS, METRICS, FEED = "/healthz", "/readyz", "/metrics", "/feeds/all.atom"


@cache
def app_routes() -> tuple[object, ...]:
    """The routes of the application as ``serve`` builds it (no database is touched)."""
    config = load_config(DEPLOY / "kubernetes" / "base" / "feeds.toml")
    return tuple(create_app(create_engine("sqlite://"), config).routes)


def is_route(path: str) -> bool:
    """Whether ``GET path`` reaches a route of the application."""
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "query_string": b""}
    return any(route.matches(scope)[0] is Match.FULL for route in app_routes())  # type: ignore[attr-defined]


def missing_routes(paths: Sequence[str]) -> list[str]:
    """The paths that are no route and not expected from parallel work either."""
    return [p for p in paths if not is_route(p) and p not in EXPECTED_FROM_PARALLEL_WORK]


def parse_error(argv: Sequence[str]) -> str | None:
    """Why ``aggregator *argv`` is refused by the application's argument parser, or None."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            build_parser().parse_args(list(argv))
    except SystemExit:
        return stderr.getvalue().strip() or "refused"
    return None


def command_error(argv: Sequence[str]) -> str | None:
    """As ``parse_error``, accepting a command that uses a part expected from parallel work."""
    error = parse_error(argv)
    if error is not None and EXPECTED_FROM_PARALLEL_WORK.intersection(argv):
        return None
    return error


def pending_parts() -> list[str]:
    """The parts expected from parallel work that the application does not have yet."""
    pending = [p for p in sorted(EXPECTED_FROM_PARALLEL_WORK) if p.startswith("/") and not is_route(p)]
    if parse_error(["db", "current"]) is not None:
        pending.append("db")
    if parse_error(["serve", "--workers", "2"]) is not None:
        pending.append("--workers")
    return pending


def option(argv: Sequence[str], name: str) -> str:
    """The value given to ``name`` in an argument list (``--port 8000``)."""
    return argv[list(argv).index(name) + 1]


@dataclass(frozen=True)
class Image:
    """What deploy/Containerfile's final stage declares."""

    uid: int
    gid: int
    env: dict[str, str]
    port: int
    entrypoint: list[str]
    cmd: list[str]
    text: str


@cache
def image() -> Image:
    text = (DEPLOY / "Containerfile").read_text(encoding="utf-8")
    final = text.rsplit("\nFROM ", 1)[1]
    joined = re.sub(r"\\\n\s*", " ", final)
    directives = [line.split(None, 1) for line in joined.splitlines() if line and not line.startswith("#")]
    values = {word: rest for word, rest in directives[1:]}
    uid, gid = values["USER"].split(":")
    env = dict(pair.split("=", 1) for pair in shlex.split(values["ENV"]))
    return Image(
        uid=int(uid),
        gid=int(gid),
        env=env,
        port=int(values["EXPOSE"]),
        entrypoint=json.loads(values["ENTRYPOINT"]),
        cmd=json.loads(values["CMD"]),
        text=text,
    )
