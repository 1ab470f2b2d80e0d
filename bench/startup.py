"""Start-up cost of the CLI: each figure is a whole fresh process, median of --runs.

Rows: the bare interpreter; ``import aggregator.cli``; ``aggregator poll`` on an empty
configuration and an SQLite file (end to end: start-up, config, engine, schema check, a run with
nothing due); the ``-X importtime`` cumulative time of ``aggregator.cli`` (median); and the
imports that cost most on the poll path, from one ``-X importtime`` run of it. ``--tree DIR``
measures another copy of the package (e.g. ``git archive <commit> aggregator | tar -x -C DIR``)
through PYTHONPATH; ``--reader PYTHON`` adds lemon24/reader's
``import reader; reader.make_reader(':memory:')`` run by that interpreter. ``--against DIR``
adds A/B rows: this copy (A) and the one in DIR (B) run in turn, A B A B ..., and the ratio is
taken pair by pair, so a machine whose load drifts during the run still gives a fair ratio.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import add_idle_argument, banner, median, print_table, wait_idle

READER = "import reader; reader.make_reader(':memory:')"


def run_once(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Wall and CPU seconds of one finished child, and its standard error."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{cmd} exited {done.returncode}: {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stderr


def measure(cmd: list[str], env: dict[str, str], cwd: Path, runs: int) -> tuple[float, float, float, float]:
    run_once(cmd, env, cwd)  # warm-up: file caches, .pyc, the database file
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu, _ = run_once(cmd, env, cwd)
        walls.append(wall)
        cpus.append(cpu)
    return median(walls), min(walls), max(walls), median(cpus)


def paired(
    a: list[str], env_a: dict[str, str], b: list[str], env_b: dict[str, str], cwd: Path, runs: int
) -> tuple[float, float, float, float]:
    """Median CPU ms of A and of B, and the medians of the pairwise CPU and wall ratios A/B."""
    run_once(a, env_a, cwd)
    run_once(b, env_b, cwd)
    cpu_a, cpu_b, cpu_ratio, wall_ratio = [], [], [], []
    for _ in range(runs):
        wall_1, cpu_1, _ = run_once(a, env_a, cwd)
        wall_2, cpu_2, _ = run_once(b, env_b, cwd)
        cpu_a.append(cpu_1)
        cpu_b.append(cpu_2)
        cpu_ratio.append(cpu_1 / cpu_2)
        wall_ratio.append(wall_1 / wall_2)
    return median(cpu_a) * 1000, median(cpu_b) * 1000, median(cpu_ratio), median(wall_ratio)


def importtime(stderr: str) -> dict[str, int]:
    """Top-level imports (no indentation) and their cumulative microseconds."""
    out: dict[str, int] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        if not name.startswith("  "):
            out[name.strip()] = int(cumulative)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tree", type=Path, help="directory holding another copy of aggregator/")
    parser.add_argument("--against", type=Path, help="directory holding a copy to compare with (B)")
    parser.add_argument("--reader", help="a Python with lemon24/reader installed")
    add_idle_argument(parser)
    args = parser.parse_args()
    runs = max(1, min(args.runs, 100))
    wait_idle(args.wait_idle)
    banner(f"start-up ({args.tree or 'this checkout'})")

    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    if args.tree:
        env["PYTHONPATH"] = str(args.tree.resolve())
    py = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        cwd = Path(scratch)
        (cwd / "empty.toml").write_text("[poller]\n", encoding="utf-8")
        poll = [py, "-m", "aggregator.cli", "--config", "empty.toml", "--db", "sqlite:///s.db", "poll"]
        rows: list[list[object]] = []
        cases = [
            ("python -c pass", [py, "-c", "pass"], env),
            ("import aggregator.cli", [py, "-c", "import aggregator.cli"], env),
            ("aggregator poll (empty config)", poll, env),
        ]
        if args.reader:
            cases.append(("reader: import + make_reader", [args.reader, "-c", READER], os.environ.copy()))
        for label, cmd, case_env in cases:
            med, low, high, cpu = measure(cmd, case_env, cwd, runs)
            rows.append([label, round(med * 1000), round(low * 1000), round(high * 1000), round(cpu * 1000)])
        print_table(["whole process", "wall ms (median)", "min", "max", "cpu ms (median)"], rows)

        cumulative = []
        for _ in range(runs):
            _, _, err = run_once([py, "-X", "importtime", "-c", "import aggregator.cli"], env, cwd)
            cumulative.append(importtime(err).get("aggregator.cli", 0))
        print(f"\n-X importtime, aggregator.cli cumulative: median {median(cumulative) / 1000:.0f} ms")

        if args.against:
            env_b = {**env, "PYTHONPATH": str(args.against.resolve())}
            poll_b = [*poll[:-2], "sqlite:///b.db", "poll"]
            imp = [py, "-c", "import aggregator.cli"]
            pairs = [
                ("import aggregator.cli", imp, imp),
                ("aggregator poll (empty config)", poll, poll_b),
            ]
            ratios = []
            for label, cmd_a, cmd_b in pairs:
                cpu_a, cpu_b, cpu_ab, wall_ab = paired(cmd_a, env, cmd_b, env_b, cwd, runs)
                ratios.append([label, round(cpu_a), round(cpu_b), f"{cpu_ab:.3f}", f"{wall_ab:.3f}"])
            print(f"\nA = {args.tree or 'this checkout'}, B = {args.against}; {runs} pairs")
            print_table(["whole process", "A cpu ms", "B cpu ms", "A/B cpu", "A/B wall"], ratios)

        _, _, err = run_once([py, "-X", "importtime", *poll[1:]], env, cwd)
        top = sorted(importtime(err).items(), key=lambda kv: -kv[1])[:10]
        print("\nmost costly top-level imports of one `poll` run (-X importtime, cumulative ms):")
        print_table(["module", "ms"], [[name, round(us / 1000)] for name, us in top])


if __name__ == "__main__":
    main()
