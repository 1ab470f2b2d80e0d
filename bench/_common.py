"""Shared helpers for the benchmark scripts: throw-away databases, timing, percentiles, tables.

Every script creates its own database and removes it afterwards: an SQLite file
in a temporary directory, or a fresh PostgreSQL database ``bench_<random>`` on
the server named by ``--pg-url`` (dropped with ``WITH (FORCE)`` at the end).
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python bench/x.py` puts bench/ first, not the repository root
    sys.path.insert(0, str(REPO))

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
KINDS = ("sqlite", "postgres")

# Words for synthetic titles, texts and tags.
WORDS = [
    "kubernetes",
    "golang",
    "docker",
    "linux",
    "cloud",
    "database",
    "index",
    "latency",
    "cache",
    "queue",
    "stream",
    "service",
    "mesh",
    "proxy",
    "tracing",
    "metrics",
    "logging",
    "deploy",
    "rollout",
    "canary",
    "cluster",
    "node",
    "pod",
    "schema",
    "migration",
    "postgres",
    "sqlite",
    "replication",
    "backup",
    "storage",
    "network",
    "packet",
    "kernel",
    "compiler",
    "runtime",
    "memory",
    "garbage",
    "collector",
    "scheduler",
    "thread",
    "async",
    "event",
    "loop",
    "socket",
    "protocol",
    "http",
    "grpc",
    "json",
    "parser",
    "feed",
]


def add_db_arguments(parser: argparse.ArgumentParser, default: str = "sqlite,postgres") -> None:
    parser.add_argument(
        "--db",
        default=default,
        help=f"comma-separated databases to run on: sqlite, postgres (default: {default})",
    )
    parser.add_argument(
        "--pg-url",
        default=DEFAULT_PG,
        help="an existing PostgreSQL database to connect to; a fresh database is created next to it",
    )
    parser.add_argument(
        "--pg-options",
        default="",
        help='libpq "options" for the benchmark connections, e.g. "-c plan_cache_mode=force_custom_plan"',
    )


def selected_kinds(value: str) -> list[str]:
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise SystemExit(f"--db: expected sqlite and/or postgres, got {value!r}")
    return kinds


@contextlib.contextmanager
def scratch_database(
    kind: str,
    pg_url: str = DEFAULT_PG,
    workdir: Path | None = None,
    pg_options: str = "",
    prefix: str = "bench_",
) -> Iterator[str]:
    """A URL for an empty database of ``kind`` (PostgreSQL: ``prefix`` + random) removed on exit."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="aggbench-", dir=workdir) as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(pg_url).set(database=name)
            if pg_options:
                url = url.update_query_dict({"options": pg_options})
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def code_version() -> str:
    """The commit the figures were taken at (``-dirty``: with uncommitted changes)."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() or "unknown"


def postgres_version(pg_url: str = DEFAULT_PG) -> str:
    try:
        engine = create_engine(pg_url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            version = str(conn.execute(text("SHOW server_version")).scalar())
        engine.dispose()
        return version
    except Exception as exc:  # only for the banner
        return f"unavailable ({type(exc).__name__})"


def banner(title: str, kinds: Sequence[str] = (), pg_url: str = DEFAULT_PG) -> None:
    parts = [
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
    ]
    if "postgres" in kinds:
        parts.append(f"PostgreSQL {postgres_version(pg_url)}")
    parts.append(f"{_cpu_count()} CPUs")
    parts.append(f"code {code_version()}")
    parts.append(load_note())
    print(f"== {title}  ({', '.join(parts)})", flush=True)


def cpu_busy(interval: float = 1.0) -> float:
    """Percent of all CPUs busy over ``interval`` seconds (from /proc/stat; 0.0 where unavailable)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    try:
        total1, idle1 = sample()
        time.sleep(interval)
        total2, idle2 = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    total = total2 - total1
    return 100.0 * (total - (idle2 - idle1)) / total if total else 0.0


def wait_idle(max_seconds: float, threshold: float = 15.0) -> None:
    """Wait (at most ``max_seconds``) until the machine is idle: other work skews every figure here."""
    if max_seconds <= 0:
        return
    deadline = time.monotonic() + max_seconds
    quiet = 0
    while time.monotonic() < deadline:
        busy = cpu_busy(1.0)
        quiet = quiet + 1 if busy < threshold else 0
        if quiet >= 3:
            return
    print(f"   (machine still busy after {max_seconds:.0f} s; measuring anyway)", flush=True)


def load_note() -> str:
    import os

    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def add_idle_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to this long for the CPUs to be idle (default: do not wait)",
    )


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


@dataclass
class Timer:
    """Accumulated seconds and calls per label (thread-safe enough for one writer thread)."""

    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def add(self, label: str, elapsed: float) -> None:
        self.seconds[label] = self.seconds.get(label, 0.0) + elapsed
        self.calls[label] = self.calls.get(label, 0) + 1

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - started)

        return timed

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table; numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [all(_is_number(row[i]) for row in rows) if rows else False for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    print(line(list(headers)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(line(row))
    print(flush=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def dispose(engine: Engine | None) -> None:
    if engine is not None:
        engine.dispose()
