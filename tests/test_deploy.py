"""deploy/: the Kubernetes manifests validate against the API schemas and run a locally built image;
what the systemd units and the cron line assume (user, paths) is created by deploy/README.md's commands.
"""

from __future__ import annotations

import configparser
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
MANIFEST = DEPLOY / "kubernetes" / "aggregator.yaml"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
KUBERNETES = "1.30.0"


def documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(MANIFEST.read_text(encoding="utf-8")) if d]


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    result: list[dict[str, Any]] = spec["template"]["spec"]["containers"]
    return result


def readme_commands() -> list[list[str]]:
    """Every command line in deploy/README.md's shell blocks, continuation lines joined."""
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    commands = [shlex.split(line, comments=True) for line in lines]
    return [c for c in commands if c]


def unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_validates_against_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_workloads_run_the_locally_built_image_without_pulling() -> None:
    workloads = [d for d in documents() if d["kind"] in ("CronJob", "Deployment")]
    assert {d["kind"] for d in workloads} == {"CronJob", "Deployment"}
    for doc in workloads:
        for container in containers(doc):
            assert container["image"] == f"aggregator:{VERSION}"
            assert container["imagePullPolicy"] in ("IfNotPresent", "Never")
    build = f"docker build -f deploy/Containerfile -t aggregator:{VERSION} ."
    assert build in (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert build in (DEPLOY / "Containerfile").read_text(encoding="utf-8")
    loads = {" ".join(c[:3]) for c in readme_commands()}
    assert {"kind load docker-image", "minikube image load"} <= loads


def test_readme_creates_what_the_units_and_cron_assume() -> None:
    commands = readme_commands()
    users = {c[-1] for c in commands if c[0] == "useradd"}
    made = {p for c in commands if c[:2] in (["install", "-d"], ["mkdir", "-p"]) for p in c[2:]}
    installed = {c[-1] for c in commands if c[:1] == ["install"] and "-d" not in c}
    venvs = {c[-1] for c in commands if c[1:3] == ["-m", "venv"]}
    assumed_paths: set[str] = set()
    for path in UNITS:
        service = unit(path)["Service"]
        assert service["User"] in users, path.name
        program = shlex.split(service["ExecStart"])[0]
        assert any(program == f"{venv}/bin/aggregator" for venv in venvs), program
        assumed_paths.update(shlex.split(service["ReadWritePaths"]))
        env = dict(v.split("=", 1) for v in re.findall(r"^Environment=(\S+)", path.read_text(), re.M))
        assert env["AGGREGATOR_CONFIG"] in installed, path.name
        assumed_paths.add(env["AGGREGATOR_DB"].removeprefix("sqlite:///").rsplit("/", 1)[0])
    cron = (DEPLOY / "cron" / "aggregator").read_text(encoding="utf-8")
    (line,) = [x for x in cron.splitlines() if x and not x.startswith("#") and "=" not in x.split()[0]]
    fields = line.split()
    assert fields[5] in users
    assert any(fields[6] == f"{venv}/bin/aggregator" for venv in venvs)
    log = line.split(">>")[1].split()[0]
    assumed_paths.add(str(Path(log).parent))
    assert assumed_paths <= made, assumed_paths - made
