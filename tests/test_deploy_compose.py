"""deploy/compose.yaml: valid under the Compose specification's schema (offline), and what it runs
agrees with the application (commands, routes) and the image (port, configuration path): PostgreSQL,
a one-shot migration, the API and two pollers, each started once what it needs is healthy or done.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from deploysurface import (
    DEPLOY,
    IMAGE,
    READINESS,
    command_error,
    image,
    missing_routes,
    option,
)

from aggregator.config import load_config

COMPOSE = DEPLOY / "compose.yaml"
APP_SERVICES = ("migrate", "api", "poller")


PASSWORD = "s3cret-for-this-test"
VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: ``${NAME}``, ``${NAME:-default}``, ``${NAME:?error}``."""

    def value(match: re.Match[str]) -> str:
        name, kind, arg = match.groups()
        if env.get(name):
            return env[name]
        if kind == "?":
            raise LookupError(f"{name}: {arg}")
        return arg or ""

    return VARIABLE.sub(value, text)


def services(env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The services as compose reads them with ``env`` (by default: a password set)."""
    text = interpolate(
        COMPOSE.read_text(encoding="utf-8"), {"POSTGRES_PASSWORD": PASSWORD} if env is None else env
    )
    result: dict[str, dict[str, Any]] = yaml.safe_load(text)["services"]
    return result


def test_compose_file_is_valid_under_the_compose_specification() -> None:
    cmd = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_it_runs_postgres_a_migration_the_api_and_two_pollers() -> None:
    found = services()
    assert set(found) == {"postgres", *APP_SERVICES}
    commands = {name: found[name]["command"] for name in APP_SERVICES}
    assert commands["migrate"] == ["db", "upgrade"]
    assert commands["api"][0] == "serve"
    assert commands["poller"][:2] == ["poll", "--loop"]
    assert found["poller"]["deploy"]["replicas"] == 2
    assert found["migrate"]["restart"] == "no"
    for name, argv in commands.items():
        assert command_error(argv) is None, name


def test_app_services_start_after_a_healthy_database_and_a_finished_migration() -> None:
    found = services()
    assert found["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert found["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("api", "poller"):
        assert found[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }


def test_the_api_health_check_asks_for_readiness_on_the_port_it_serves_and_publishes() -> None:
    api = services()["api"]
    port = option(api["command"], "--port")
    (url,) = re.findall(r"http://[^'\" ]+", " ".join(api["healthcheck"]["test"]))
    parts = urlsplit(url)
    assert (parts.hostname, str(parts.port), parts.path) == ("127.0.0.1", port, READINESS)
    assert missing_routes([parts.path]) == []
    assert option(api["command"], "--host") == "0.0.0.0"
    assert api["ports"] == [f"127.0.0.1:{port}:{port}"]  # published on the host's loopback only
    assert int(port) == image().port


def test_app_services_run_the_image_read_only_with_the_configuration_mounted_read_only() -> None:
    for name in APP_SERVICES:
        service = services()[name]
        assert service["image"] == IMAGE
        context = (COMPOSE.parent / service["build"]["context"]).resolve()  # relative to the file
        assert context == DEPLOY.parent
        assert context / service["build"]["dockerfile"] == DEPLOY / "Containerfile"
        assert service["read_only"] is True and service["tmpfs"] == ["/tmp"]
        assert service["cap_drop"] == ["ALL"]
        (mount,) = service["volumes"]
        config = service["environment"]["AGGREGATOR_CONFIG"]
        assert (mount["target"], mount["read_only"]) == (config, True)
        assert config == image().env["AGGREGATOR_CONFIG"]
        assert load_config(COMPOSE.parent / mount["source"]).sources


def test_app_services_reach_the_database_compose_creates() -> None:
    found = services()
    db = found["postgres"]["environment"]
    for name in APP_SERVICES:
        url = urlsplit(found[name]["environment"]["AGGREGATOR_DB"])
        assert url.scheme == "postgresql+psycopg"
        assert (url.hostname, url.port, url.username) == ("postgres", 5432, db["POSTGRES_USER"])
        assert url.path == "/" + db["POSTGRES_DB"]
        assert url.password == db["POSTGRES_PASSWORD"] == PASSWORD
    assert "ports" not in found["postgres"]  # the database stays on the compose network


def test_there_is_no_default_database_password() -> None:
    with pytest.raises(LookupError, match="POSTGRES_PASSWORD"):
        services(env={})
