"""The all-304 re-poll against a plain aiohttp process fetching the same URLs with the same validators.

``poll.py``'s aiohttp server (its own process) serves ``--feeds`` synthetic RSS documents with
strong ETags. A cold ``aggregator poll`` (a child process, fresh SQLite file, configuration
written here) stores every source and its validators. Then ``--runs`` times, in turn:

* ours:    ``python -m aggregator.cli --config CFG --db sqlite:///DB poll --quiet --force``: every
           source re-polled, the server answering 304 to ``If-None-Match``;
* ceiling: ``bench/_aiohttp_child.py``: one plain aiohttp process, the same URLs with the
           validators read from our database, the same concurrency and per-host limits and
           request headers, nothing stored.

Printed: the median whole-process wall time of each (start-up included) and their ratio; the
in-process times (our summary line; the aiohttp script's first request to last response) and
their ratio; and the start-up of each alone (``aggregator poll`` on a configuration with no
source, on an SQLite file of its own; the aiohttp script on an empty list), so the figures show how
much of ours is start-up and how much is the poll.

    python bench/warm_poll.py --feeds 2000
    python bench/warm_poll.py --feeds 2000 --per-host 2 --runs 5
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _children import ChildRun, clean_env, run_child
from _common import add_idle_argument, banner, load_note, median, print_table, wait_idle
from _polls import (
    FeedServerProcess,
    add_poll_arguments,
    aiohttp_command,
    check_poll_arguments,
    child_json,
    empty_startup,
    run_poll,
    validators,
    warm_up,
    write_config,
    write_targets,
)


def served(server: FeedServerProcess) -> dict[str, int]:
    stats: dict[str, int] = server.call("/_stats")
    server.call("/_control")  # clears the counts for the next pass
    return stats


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_poll_arguments(parser, feeds=2000)
    add_idle_argument(parser)
    args = parser.parse_args(argv)
    check_poll_arguments(parser, args)
    wait_idle(args.wait_idle)
    pw = "default" if args.parse_workers is None else args.parse_workers
    banner(
        f"warm (all-304) poll vs plain aiohttp: {args.feeds} feeds x {args.items} items, concurrency "
        f"{args.concurrency}, per_host {args.per_host}, parse_workers {pw}, {args.runs} runs"
    )
    server = FeedServerProcess(args.feeds, args.items, args.seed)
    try:
        with tempfile.TemporaryDirectory(prefix="aggbench-") as tmp:
            return compare(Path(tmp), server, args)
    finally:
        server.stop()


def compare(tmp: Path, server: FeedServerProcess, args: argparse.Namespace) -> int:
    urls = [server.url(f"/feeds/{n}.xml") for n in range(args.feeds)]
    config, db, targets, empty = tmp / "feeds.toml", tmp / "ours.db", tmp / "targets.json", tmp / "none.json"
    write_config(config, urls, args)
    server.call("/_control?version=0&mode=conditional")
    warm_up(tmp, server, args, reader=False)
    cold, _ = run_poll(config, db, tmp)
    print(
        f"   cold: {cold.stdout.strip().splitlines()[-1]} ({cold.wall:.1f} s whole) "
        f"[server: {served(server)}]",
        flush=True,
    )
    stored = validators(db)
    missing = sum(1 for t in stored if not t["etag"] and not t["last_modified"])
    if missing or len(stored) != args.feeds:
        raise SystemExit(f"{missing} of {len(stored)} sources have no validators after the cold poll")
    write_targets(targets, stored)
    write_targets(empty, [])

    ours: list[tuple[ChildRun, dict[str, float]]] = []
    plain: list[tuple[ChildRun, dict[str, Any]]] = []
    for n in range(args.runs):
        print(f"   run {n + 1}/{args.runs} ({load_note()})", flush=True)
        ours.append(run_poll(config, db, tmp))
        ours_seen = served(server)
        run = run_child(aiohttp_command(targets, args), env=clean_env(), cwd=tmp)
        plain.append((run, child_json(run)))
        plain_seen = served(server)
        print(
            f"   ours {ours[-1][0].wall:.2f} s [server: {ours_seen}]; aiohttp {run.wall:.2f} s "
            f"{plain[-1][1]['statuses']} [server: {plain_seen}]",
            flush=True,
        )
        if ours_seen.get("304") != args.feeds or plain_seen.get("304") != args.feeds:
            print("   !! not every request was answered 304", flush=True)

    print(f"   start-up alone, {args.runs} runs each ({load_note()})", flush=True)
    ours_empty = empty_startup(tmp, args.runs)
    plain_empty = median(
        [
            run_child(aiohttp_command(empty, args), env=clean_env(), cwd=tmp).check().wall
            for _ in range(args.runs)
        ]
    )
    w_ours, w_plain = median([r.wall for r, _ in ours]), median([r.wall for r, _ in plain])
    i_ours, i_plain = median([s["elapsed"] for _, s in ours]), median([s["elapsed"] for _, s in plain])
    print()
    print_table(
        ["all-304 re-poll", "ours s", "plain aiohttp s", "ratio"],
        [
            ["whole process (median)", w_ours, w_plain, w_ours / w_plain],
            ["in-process (median)", i_ours, i_plain, i_ours / i_plain],
            [
                "start-up alone (empty command, median)",
                ours_empty.wall,
                plain_empty,
                ours_empty.wall / plain_empty,
            ],
            [
                "whole process less start-up",
                w_ours - ours_empty.wall,
                w_plain - plain_empty,
                (w_ours - ours_empty.wall) / (w_plain - plain_empty) if w_plain > plain_empty else "-",
            ],
        ],
    )
    print(
        f"target (issue 9): whole process <= 2x. {args.feeds} sources, every one answered 304.\n"
        "In-process: our summary line's time; the aiohttp script's first request to last response.\n"
        "Start-up alone: `aggregator poll` on a configuration with no source (an SQLite file of its own,\n"
        "schema already made); the aiohttp script on an empty list (interpreter, imports, a loop, a session)."
    )
    print(load_note(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
