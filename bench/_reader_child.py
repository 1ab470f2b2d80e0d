"""lemon24/reader polling a list of feeds into its SQLite database, as one process.

The ceiling of the cold and warm poll (``bench/compare_reader.py``): ``make_reader(DB)``, every URL
of the JSON list added (``add_feed``, kept if already there), then one
``update_feeds(workers=N, scheduled=False)`` (every feed now, not only those due, as our
``poll --force``). It imports nothing of the project. Prints one JSON line: seconds of
start-up (imports and ``make_reader``), of adding the feeds, of ``update_feeds``, the number of
entries and feeds stored and of feeds whose last update failed.

    python bench/_reader_child.py DB URLS.json --workers 16
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from reader import make_reader  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", help="SQLite file for reader")
    parser.add_argument("urls", type=Path, help="JSON list of {url, ...}")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    urls = [t["url"] for t in json.loads(args.urls.read_text(encoding="utf-8"))]
    reader = make_reader(args.db)
    made = time.perf_counter()
    for url in urls:
        reader.add_feed(url, exist_ok=True)
    added = time.perf_counter()
    reader.update_feeds(workers=args.workers, scheduled=False)  # every feed, as `poll --force`
    updated = time.perf_counter()
    entries = reader.get_entry_counts().total
    feeds = reader.get_feed_counts()
    reader.close()
    print(
        json.dumps(
            {
                "startup": made - STARTED,
                "add": added - made,
                "elapsed": updated - added,
                "entries": entries,
                "feeds": feeds.total,
                "broken": feeds.broken,
            },
            sort_keys=True,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
