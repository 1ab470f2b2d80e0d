"""deploy/ on one machine: the systemd units pass ``systemd-analyze verify`` and its offline security
review, run commands the application accepts, and with the cron line assume only the user, virtualenv
and paths that deploy/README.md's install steps create. (compose.yaml: test_deploy_compose.py;
Kubernetes and the image: test_deploy_kubernetes.py.)
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploysurface import DEPLOY, IMAGE, command_error

SYSTEMD = DEPLOY / "systemd"
UNITS = sorted(SYSTEMD.glob("aggregator-*.service"))
TIMERS = sorted(SYSTEMD.glob("aggregator-*.timer"))
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
# The exposure score `systemd-analyze security` gives, out of 10 (its "OK" band ends at 2.0).
MAX_EXPOSURE = 2.0
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
    "RestrictSUIDSGID": "yes",
    "SystemCallFilter": "@system-service",
}


def readme_commands() -> list[list[str]]:
    """Every command line in deploy/README.md's shell blocks, continuation lines joined."""
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    commands = [shlex.split(line, comments=True) for line in lines]
    return [c for c in commands if c]


def unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser


def environment(path: Path) -> dict[str, str]:
    return dict(v.split("=", 1) for v in re.findall(r"^Environment=(\S+)", path.read_text(), re.M))


def cron_line() -> list[str]:
    cron = (DEPLOY / "cron" / "aggregator").read_text(encoding="utf-8")
    (line,) = [x for x in cron.splitlines() if x and not x.startswith("#") and "=" not in x.split()[0]]
    return line.split()


def units_runnable_here(tmp_path: Path) -> list[Path]:
    """The units with their program pointed at this checkout's ``aggregator`` (verify wants it to
    exist); nothing else differs from the files an installation copies."""
    here = str(Path(sys.executable).parent / "aggregator")
    copies = []
    for path in [*UNITS, *TIMERS]:
        copy = tmp_path / path.name
        copy.write_text(path.read_text().replace("/opt/aggregator/.venv/bin/aggregator", here))
        copies.append(copy)
    return copies


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze not installed")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    assert SYSTEMD_ANALYZE is not None
    copies = units_runnable_here(tmp_path)
    cmd = [SYSTEMD_ANALYZE, "verify", "--man=no", "--generators=no", *map(str, copies)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_units_score_ok_in_the_offline_security_review(path: Path, tmp_path: Path) -> None:
    assert SYSTEMD_ANALYZE is not None
    copy = next(c for c in units_runnable_here(tmp_path) if c.name == path.name)
    cmd = [SYSTEMD_ANALYZE, "security", "--offline=yes", f"--threshold={int(MAX_EXPOSURE * 10)}", str(copy)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    (score,) = re.findall(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert float(score) <= MAX_EXPOSURE and done.returncode == 0, done.stdout[-2000:]


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_units_are_hardened_and_write_only_their_state(path: Path) -> None:
    service = unit(path)["Service"]
    assert {key: service.get(key) for key in HARDENING} == HARDENING
    assert service["StateDirectory"] == "aggregator"
    assert shlex.split(service["ReadWritePaths"])[0] == "/var/lib/aggregator"
    assert service["User"] != "root"


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_units_run_commands_the_application_accepts(path: Path) -> None:
    argv = shlex.split(unit(path)["Service"]["ExecStart"])
    assert command_error(argv[1:]) is None
    if "serve" in argv:
        assert argv[argv.index("--host") + 1] == "127.0.0.1"  # behind a proxy, never exposed directly


def test_the_timer_starts_the_one_shot_poll() -> None:
    (timer,) = TIMERS
    target = unit(timer)["Timer"]["Unit"]
    service = unit(SYSTEMD / target)["Service"]
    assert service["Type"] == "oneshot"
    assert shlex.split(service["ExecStart"])[1:] == ["poll", "--quiet"]


def test_the_daemon_form_polls_in_a_loop_and_the_server_serves() -> None:
    commands = {p.name: shlex.split(unit(p)["Service"]["ExecStart"])[1:3] for p in UNITS}
    assert commands == {
        "aggregator-poll.service": ["poll", "--quiet"],
        "aggregator-poller.service": ["poll", "--loop"],
        "aggregator-serve.service": ["serve", "--host"],
    }


def test_the_cron_line_runs_a_quiet_poll_every_five_minutes() -> None:
    fields = cron_line()
    assert fields[:5] == ["*/5", "*", "*", "*", "*"]
    assert command_error(fields[7 : fields.index(">>")]) is None
    assert fields[7:9] == ["poll", "--quiet"]


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
        # A path with a leading "-" is optional (the node_exporter textfile directory).
        assumed_paths.update(p for p in shlex.split(service["ReadWritePaths"]) if not p.startswith("-"))
        env = environment(path)
        assert env["AGGREGATOR_CONFIG"] in installed, path.name
        assumed_paths.add(env["AGGREGATOR_DB"].removeprefix("sqlite:///").rsplit("/", 1)[0])
    fields = cron_line()
    assert fields[5] in users
    assert any(fields[6] == f"{venv}/bin/aggregator" for venv in venvs)
    log = fields[fields.index(">>") + 1]
    assumed_paths.add(str(Path(log).parent))
    assert assumed_paths <= made, assumed_paths - made


def test_readme_builds_and_loads_the_image_the_manifests_run() -> None:
    build = f"docker build -f deploy/Containerfile -t {IMAGE} ."
    assert build in (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert build in (DEPLOY / "Containerfile").read_text(encoding="utf-8")
    loads = {" ".join(c[:3]) for c in readme_commands()}
    assert {"kind load docker-image", "minikube image load"} <= loads
