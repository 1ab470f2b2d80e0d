"""The cold and warm poll against lemon24/reader (``update_feeds``, also feedparser + SQLite).

Both poll the same ``--feeds`` synthetic RSS documents (``--items`` entries each) from
``poll.py``'s aiohttp server in its own process, each as a whole child process on its own fresh
SQLite file:

* ours:   ``python -m aggregator.cli --config CFG --db sqlite:///DB poll --quiet --force`` with a
          configuration written here (concurrency, per_host; parse_workers left to its default,
          one per CPU, unless ``--parse-workers``);
* reader: ``bench/_reader_child.py``: ``make_reader(DB)``, ``add_feed`` for every URL,
          ``update_feeds(workers=N, scheduled=False)``, N = ``--reader-workers`` (default: our
          concurrency, the same number of fetches in flight; reader runs only the fetching in
          its worker threads and parses one feed at a time in the calling thread).

The cold pass runs ``--cold-runs`` times each (default 1) on fresh databases, taking turns (ours
first, then reader first, ...); then ``--runs`` warm (all-304) passes of each, in turn, on the
databases of the first cold pass; medians are printed. Wall time is the whole process (start-up
included); "in-process" is the poll alone (our summary line; reader's ``update_feeds``). Peak
memory is the peak of the summed PSS over the process tree (parse workers and fork server
included; see ``_children.py``), also per item in flight (fetches in flight x ``--items``).
Requires ``pip install -e '.[bench]'``.

    python bench/compare_reader.py --feeds 2000
    python bench/compare_reader.py --feeds 200 --runs 1 --reader-workers 4
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _children import ChildRun, clean_env, run_child
from _common import add_idle_argument, banner, load_note, median, print_table, wait_idle
from _polls import (
    READER_CHILD,
    FeedServerProcess,
    add_poll_arguments,
    check_poll_arguments,
    child_json,
    empty_startup,
    run_poll,
    stored,
    warm_up,
    write_config,
    write_targets,
)


def reader_pass(db: Path, targets: Path, workers: int, cwd: Path) -> tuple[ChildRun, dict[str, Any]]:
    cmd = [sys.executable, str(READER_CHILD), str(db), str(targets), "--workers", str(workers)]
    run = run_child(cmd, env=clean_env(), cwd=cwd)
    return run, child_json(run)


def faster(ours: float, theirs: float) -> str:
    """How ours compares in time: "2.50x faster" or "1.27x slower"."""
    if ours <= 0 or theirs <= 0:
        return "-"
    return f"{theirs / ours:.2f}x faster" if ours <= theirs else f"{ours / theirs:.2f}x slower"


def served(server: FeedServerProcess) -> str:
    stats = server.call("/_stats")
    server.call("/_control")  # clears the counts for the next pass
    return ", ".join(f"{k}: {v}" for k, v in sorted(stats.items()) if k != "bytes")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_poll_arguments(parser, feeds=2000)
    parser.add_argument(
        "--reader-workers", type=int, default=None, help="update_feeds(workers=N) (default: --concurrency)"
    )
    parser.add_argument(
        "--cold-runs",
        type=int,
        default=1,
        help="cold passes of each, on fresh databases, taking turns: A B, B A, ... (default 1)",
    )
    add_idle_argument(parser)
    args = parser.parse_args(argv)
    check_poll_arguments(parser, args)
    if not 1 <= args.cold_runs <= 10:
        parser.error("--cold-runs: 1 to 10")
    workers = args.reader_workers or args.concurrency
    if importlib.util.find_spec("reader") is None:
        parser.error("lemon24/reader is not installed here: pip install -e '.[bench]'")
    wait_idle(args.wait_idle)
    pw = "default" if args.parse_workers is None else args.parse_workers
    banner(
        f"cold and warm poll vs reader: {args.feeds} feeds x {args.items} items, concurrency "
        f"{args.concurrency}, per_host {args.per_host}, parse_workers {pw}; reader workers {workers}"
    )
    server = FeedServerProcess(args.feeds, args.items, args.seed)
    try:
        with tempfile.TemporaryDirectory(prefix="aggbench-") as tmp:
            return compare(Path(tmp), server, args, workers)
    finally:
        server.stop()


def compare(tmp: Path, server: FeedServerProcess, args: argparse.Namespace, workers: int) -> int:
    urls = [server.url(f"/feeds/{n}.xml") for n in range(args.feeds)]
    config, targets = tmp / "feeds.toml", tmp / "urls.json"
    write_config(config, urls, args)
    write_targets(targets, [{"url": u} for u in urls])
    server.call("/_control?version=0&mode=conditional")
    warm_up(tmp, server, args, reader=True)

    ours_colds: list[tuple[ChildRun, dict[str, float]]] = []
    reader_colds: list[tuple[ChildRun, dict[str, Any]]] = []
    for n in range(args.cold_runs):  # ours first, then reader first, ...: A B B A A B ...
        for who in ("ours", "reader") if n % 2 == 0 else ("reader", "ours"):
            print(f"   cold {n + 1}/{args.cold_runs}, {who} ... ({load_note()})", flush=True)
            if who == "ours":
                ours_colds.append(run_poll(config, tmp / f"ours-{n}.db", tmp))
                line = ours_colds[-1][0].stdout.strip().splitlines()[-1]
            else:
                reader_colds.append(reader_pass(tmp / f"reader-{n}.db", targets, workers, tmp))
                line = f"reader: {reader_colds[-1][1]}"
            print(f"   {line}  [server: {served(server)}]", flush=True)
    ours_db, reader_db = tmp / "ours-0.db", tmp / "reader-0.db"
    ours_sum, reader_sum = ours_colds[0][1], reader_colds[0][1]

    ours_warm: list[tuple[ChildRun, dict[str, float]]] = []
    reader_warm: list[tuple[ChildRun, dict[str, Any]]] = []
    for n in range(args.runs):
        print(f"   warm {n + 1}/{args.runs} ... ({load_note()})", flush=True)
        ours_warm.append(run_poll(config, ours_db, tmp))
        ours_served = served(server)
        reader_warm.append(reader_pass(reader_db, targets, workers, tmp))
        print(
            f"   ours: {ours_warm[-1][1]} [server: {ours_served}]; reader: {reader_warm[-1][1]} "
            f"[server: {served(server)}]",
            flush=True,
        )

    timings(args, ours_colds, reader_colds, ours_warm, reader_warm)
    empty = tmp / "none.json"
    write_targets(empty, [])
    idle = [empty_startup(tmp, 1), reader_pass(tmp / "reader-idle.db", empty, workers, tmp)[0]]
    memory(args, workers, [r for r, _ in ours_colds], [r for r, _ in reader_colds], idle)
    ours_n = stored(ours_db)
    print_table(
        ["stored", "ours", "reader"],
        [
            ["items (reader: entries)", ours_n["item"], reader_sum["entries"]],
            ["item seen in a feed (our sightings)", ours_n["sighting"], reader_sum["entries"]],
            ["feeds", ours_n["source"], reader_sum["feeds"]],
            ["feeds failed (first cold pass)", int(ours_sum["failed"]), reader_sum["broken"]],
        ],
    )
    print(
        "We merge the same article seen through several feeds into one item (one sighting per feed);\n"
        "reader keeps one entry per feed, so its entries match our sightings, not our items."
    )
    print(load_note(), file=sys.stderr)
    return 0


Runs = list[tuple[ChildRun, dict[str, Any]]]


def timings(
    args: argparse.Namespace, ours_cold: Runs, reader_cold: Runs, ours_warm: Runs, reader_warm: Runs
) -> None:
    rows = []
    for label, ours, theirs in (("cold", ours_cold, reader_cold), ("warm (304)", ours_warm, reader_warm)):
        whole = median([r.wall for r, _ in ours]), median([r.wall for r, _ in theirs])
        inside = median([s["elapsed"] for _, s in ours]), median([s["elapsed"] for _, s in theirs])
        runs = f"median of {len(ours)}" if len(ours) > 1 else "1 run"
        rows.append([f"{label}, whole process ({runs})", *whole, faster(*whole)])
        rows.append([f"{label}, in-process poll", *inside, faster(*inside)])
    print()
    print_table(["pass", "ours s", "reader s", "ours vs reader"], rows)
    print(
        "target (issue 9): the cold poll >= 2.5x faster than reader's. In-process: our summary line's\n"
        "time; reader's update_feeds alone (its start-up and add_feed not counted).\n"
    )


def memory(
    args: argparse.Namespace, workers: int, ours: list[ChildRun], theirs: list[ChildRun], idle: list[ChildRun]
) -> None:
    rows = []
    for who, runs, base, in_flight in (
        ("ours", ours, idle[0], args.concurrency),
        ("reader", theirs, idle[1], workers),
    ):
        items = min(in_flight, args.feeds) * args.items
        pss, rss = max(r.peak_pss_mb for r in runs), max(r.peak_rss_mb for r in runs)
        cpu = median([r.cpu for r in runs])
        rows.append(
            [
                f"{who}, cold",
                pss,
                rss,
                cpu,
                items,
                pss * 1024 / items,
                (pss - base.peak_pss_mb) * 1024 / items,
            ]
        )
        rows.append([f"{who}, no feed", base.peak_pss_mb, base.peak_rss_mb, base.cpu, 0, "-", "-"])
    print_table(
        [
            "process tree",
            "peak PSS MB",
            "peak RSS sum MB",
            "CPU s",
            "items in flight",
            "KB/item",
            "KB/item above idle",
        ],
        rows,
    )
    print(
        "target (issue 9): peak memory of the cold poll <= 300 MB, and no more than reader's per item in\n"
        "flight. Items in flight = fetches in flight (our concurrency, reader's workers) x items per feed;\n"
        "KB/item = peak PSS / items in flight; above idle: less the same command with no feed. Peaks are\n"
        "the highest over the cold runs, CPU s the median (the whole tree, parse workers included).\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
