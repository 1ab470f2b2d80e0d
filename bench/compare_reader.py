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

The cold pass runs once each (ours first); then ``--runs`` warm (all-304) passes of each, in
turn, on the same databases; the median is printed. Wall time is the whole process (start-up
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
    run_poll,
    stored,
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
    add_idle_argument(parser)
    args = parser.parse_args(argv)
    check_poll_arguments(parser, args)
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
    ours_db, reader_db = tmp / "ours.db", tmp / "reader.db"
    write_config(config, urls, args)
    write_targets(targets, [{"url": u} for u in urls])
    server.call("/_control?version=0&mode=conditional")

    print(f"   cold, ours ... ({load_note()})", flush=True)
    ours_cold, ours_sum = run_poll(config, ours_db, tmp)
    print(f"   {ours_cold.stdout.strip().splitlines()[-1]}  [server: {served(server)}]", flush=True)
    print(f"   cold, reader ... ({load_note()})", flush=True)
    reader_cold, reader_sum = reader_pass(reader_db, targets, workers, tmp)
    print(f"   reader: {reader_sum}  [server: {served(server)}]", flush=True)

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

    ours_n, reader_n = stored(ours_db), reader_sum
    w_ours = median([r.wall for r, _ in ours_warm])
    w_reader = median([r.wall for r, _ in reader_warm])
    i_ours = median([s["elapsed"] for _, s in ours_warm])
    i_reader = median([s["elapsed"] for _, s in reader_warm])
    print()
    print_table(
        ["pass", "ours s", "reader s", "ours vs reader"],
        [
            [
                "cold, whole process",
                ours_cold.wall,
                reader_cold.wall,
                faster(ours_cold.wall, reader_cold.wall),
            ],
            [
                "cold, in-process poll",
                ours_sum["elapsed"],
                reader_sum["elapsed"],
                faster(ours_sum["elapsed"], reader_sum["elapsed"]),
            ],
            [f"warm (304), whole process, median of {args.runs}", w_ours, w_reader, faster(w_ours, w_reader)],
            ["warm (304), in-process poll", i_ours, i_reader, faster(i_ours, i_reader)],
        ],
    )
    print(
        "target (issue 9): the cold poll >= 2.5x faster than reader's. In-process: our summary line's\n"
        "time; reader's update_feeds alone (its start-up and add_feed not counted)."
    )
    print()
    in_flight = {"ours": args.concurrency * args.items, "reader": workers * args.items}
    rows = []
    for who, run in (("ours", ours_cold), ("reader", reader_cold)):
        rows.append(
            [
                f"{who}, cold",
                run.peak_pss_mb,
                run.peak_rss_mb,
                run.cpu,
                in_flight[who],
                run.peak_pss_mb * 1024 / in_flight[who],
            ]
        )
    print_table(
        [
            "process tree",
            "peak PSS MB",
            "peak RSS sum MB",
            "CPU s",
            "items in flight",
            "PSS KB per item in flight",
        ],
        rows,
    )
    print(
        "target (issue 9): peak memory of the cold poll <= 300 MB, and no more than reader's per item in\n"
        "flight. Items in flight = fetches in flight (our concurrency, reader's workers) x items per feed."
    )
    print()
    print_table(
        ["stored", "ours", "reader"],
        [
            ["items (reader: entries)", ours_n["item"], reader_n["entries"]],
            ["item seen in a feed (our sightings)", ours_n["sighting"], reader_n["entries"]],
            ["feeds", ours_n["source"], reader_n["feeds"]],
            ["feeds failed (cold)", int(ours_sum["failed"]), reader_n["broken"]],
        ],
    )
    print(
        "We merge the same article seen through several feeds into one item (one sighting per feed);\n"
        "reader keeps one entry per feed, so its entries match our sightings, not our items."
    )
    print(load_note(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
