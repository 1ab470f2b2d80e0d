"""What ``compare_reader.py`` and ``warm_poll.py`` share: the ``aggregator poll`` command run as a
child process on a configuration and an SQLite file written here, and what it left in the database.

The feeds come from ``poll.py``'s server (synthetic RSS 2.0, strong ETags, in its own process).
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any

from _children import ChildRun, clean_env, run_child, use_pycache
from _common import median
from poll import FeedServerProcess

BENCH = Path(__file__).resolve().parent
AIOHTTP_CHILD = BENCH / "_aiohttp_child.py"
READER_CHILD = BENCH / "_reader_child.py"
_SUMMARY = re.compile(
    r"(\d+) sources polled in ([0-9.]+)s: (\d+) new items, (\d+) updated; "
    r"(\d+) not modified, (\d+) unchanged, (\d+) failed"
)

__all__ = ["FeedServerProcess", "median"]


def add_poll_arguments(parser: argparse.ArgumentParser, feeds: int) -> None:
    parser.add_argument("--feeds", type=int, default=feeds, help=f"number of feeds (default {feeds})")
    parser.add_argument("--items", type=int, default=20, help="entries per feed (default 20)")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="[poller] concurrency: fetches in flight (default 16)"
    )
    parser.add_argument(
        "--per-host",
        type=int,
        default=16,
        help="[poller] per_host; every feed here is on 127.0.0.1 (default 16, as in poll.py)",
    )
    parser.add_argument(
        "--parse-workers",
        type=int,
        default=None,
        help="[poller] parse_workers (default: not set, so one per CPU as the poller does)",
    )
    parser.add_argument("--runs", type=int, default=3, help="warm runs of each command (default 3)")
    parser.add_argument("--seed", type=int, default=1)


def check_poll_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.feeds < 1 or args.items < 5 or args.concurrency < 1 or args.per_host < 1:
        parser.error("--feeds, --concurrency and --per-host must be positive, --items at least 5")
    if not 1 <= args.runs <= 20:
        parser.error("--runs: 1 to 20")


def write_config(path: Path, urls: list[str], args: argparse.Namespace) -> None:
    lines = [
        "[poller]",
        "allow_private_networks = true",
        f"concurrency = {args.concurrency}",
        f"per_host = {args.per_host}",
        'run_deadline = "15m"',
    ]
    if args.parse_workers is not None:
        lines.append(f"parse_workers = {args.parse_workers}")
    for url in urls:
        lines += ["", "[[sources]]", f'url = "{url}"', 'kind = "feed"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_targets(path: Path, targets: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps(targets), encoding="utf-8")


def poll_command(config: Path, db: Path, *, force: bool = True) -> list[str]:
    cmd = [sys.executable, "-m", "aggregator.cli", "--config", str(config), "--db", f"sqlite:///{db}", "poll"]
    return [*cmd, "--quiet", *(["--force"] if force else [])]


def run_poll(config: Path, db: Path, cwd: Path, *, force: bool = True) -> tuple[ChildRun, dict[str, float]]:
    """``aggregator poll`` as a child; its summary line as numbers (``elapsed``: the run, in-process)."""
    run = run_child(poll_command(config, db, force=force), env=clean_env(), cwd=cwd).check()
    found = _SUMMARY.search(run.stdout)
    if not found:
        raise SystemExit(f"no summary line from aggregator poll:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    names = ("sources", "elapsed", "new", "updated", "not_modified", "unchanged", "failed")
    return run, {name: float(value) for name, value in zip(names, found.groups(), strict=True)}


def empty_startup(cwd: Path, runs: int) -> ChildRun:
    """``aggregator poll`` on a configuration with no source: the median of ``runs`` runs.

    The database is an SQLite file of its own; the first run, which creates its schema and warms
    the file caches, is not counted.
    """
    config, db = cwd / "empty.toml", cwd / "empty.db"
    config.write_text("[poller]\n", encoding="utf-8")
    done = [run_child(poll_command(config, db), env=clean_env(), cwd=cwd).check() for _ in range(runs + 1)]
    db.unlink(missing_ok=True)
    counted = sorted(done[1:], key=lambda r: r.wall)
    return counted[len(counted) // 2]


def warm_up(tmp: Path, server: FeedServerProcess, args: argparse.Namespace, *, reader: bool) -> None:
    """Untimed: a cold and a warm poll of 5 feeds by each command, to fill the bytecode cache."""
    print("   warm-up: 5 feeds, each command, untimed", flush=True)
    where = tmp / "warm-up"
    where.mkdir()
    use_pycache(tmp / "pycache")
    urls = [server.url(f"/feeds/{n}.xml") for n in range(min(5, args.feeds))]
    config, targets = where / "feeds.toml", where / "urls.json"
    write_config(config, urls, args)
    write_targets(targets, [{"url": u} for u in urls])
    for _ in range(2):
        run_poll(config, where / "ours.db", where)
        run_child(aiohttp_command(targets, args), env=clean_env(), cwd=where).check()
        if reader:
            cmd = [sys.executable, str(READER_CHILD), str(where / "reader.db"), str(targets)]
            run_child(cmd, env=clean_env(), cwd=where).check()
    server.call("/_control")  # clears the counts


def aiohttp_command(targets: Path, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        str(AIOHTTP_CHILD),
        str(targets),
        "--concurrency",
        str(args.concurrency),
        "--per-host",
        str(args.per_host),
    ]


def child_json(run: ChildRun) -> dict[str, Any]:
    """The JSON line a child script printed last."""
    run.check()
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"no JSON from {run.cmd}:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(lines[-1])
    return data


def validators(db: Path) -> list[dict[str, Any]]:
    """Each source's URL and the validators the poller stored for it."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT url, etag, last_modified FROM source ORDER BY id").fetchall()
    conn.close()
    return [{"url": url, "etag": etag, "last_modified": modified} for url, etag, modified in rows]


def stored(db: Path) -> dict[str, int]:
    """Items, sightings (an item seen in one source) and sources in our database."""
    with sqlite3.connect(db) as conn:
        counts = {
            table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("item", "sighting", "source")
        }
    conn.close()
    return counts
