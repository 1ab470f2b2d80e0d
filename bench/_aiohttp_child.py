"""A plain aiohttp process: GET every URL of a JSON list once, with the validators given, and exit.

The ceiling of the all-304 re-poll (``bench/warm_poll.py``): the same URLs, the same total and
per-host connection limits, and the same request headers as the poller sends (its Accept and
Accept-Encoding, ``If-None-Match``/``If-Modified-Since`` from the list), a body read to the end,
nothing stored. It imports nothing of the project. Prints one JSON line: seconds from the first
request to the last response, and the count of each status.

    python bench/_aiohttp_child.py URLS.json --concurrency 16 --per-host 16
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)


async def fetch_all(targets: list[dict[str, Any]], concurrency: int, per_host: int) -> Counter[str]:
    statuses: Counter[str] = Counter()
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=per_host)
    async with aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        timeout=aiohttp.ClientTimeout(total=30, sock_connect=10),
    ) as session:

        async def one(target: dict[str, Any]) -> None:
            headers = {
                "User-Agent": "aiohttp-bench",
                "Accept": ACCEPT,
                "Accept-Encoding": "gzip, deflate",
            }
            if target.get("etag"):
                headers["If-None-Match"] = target["etag"]
            if target.get("last_modified"):
                headers["If-Modified-Since"] = target["last_modified"]
            async with gate:
                try:
                    async with session.get(target["url"], headers=headers, allow_redirects=False) as resp:
                        await resp.read()
                        statuses[str(resp.status)] += 1
                except (aiohttp.ClientError, TimeoutError) as exc:
                    statuses[type(exc).__name__] += 1

        await asyncio.gather(*(one(t) for t in targets))
    return statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", type=Path, help="JSON list of {url, etag, last_modified}")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--per-host", type=int, default=2)
    args = parser.parse_args()
    targets: list[dict[str, Any]] = json.loads(args.urls.read_text(encoding="utf-8"))
    began = time.perf_counter()
    statuses = asyncio.run(fetch_all(targets, args.concurrency, args.per_host))
    done = time.perf_counter()
    print(
        json.dumps(
            {"startup": began - STARTED, "elapsed": done - began, "statuses": dict(statuses)},
            sort_keys=True,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
