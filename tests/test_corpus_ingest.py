"""Every file of the shared corpus through the real poller into a real database.

The files are served by a local HTTP server, one source per file, one poller run
per top-level folder. No exception may escape; every source ends ok or with a
recorded error category; for the real-world captures, the number of items a
source stored equals the number of distinct entries feedparser (the oracle)
finds in the file.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser
import pytest
from conftest import CORPUS, require_corpus
from feedserver import FeedServer, Response
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from aggregator.config import parse_config
from aggregator.db import make_engine
from aggregator.errors import CATEGORIES
from aggregator.models import Item, Sighting, Source, table_of
from aggregator.poller import Poller, RunReport

SOURCE = table_of(Source)
SIGHTING = table_of(Sighting)
ITEM = table_of(Item)
SKIP = {"MANIFEST.tsv", "CATALOG.tsv", "README.md", ".gitattributes"}
OK = {"new", "updated", "unchanged"}
MAX_ITEMS = 1000
CONTENT_TYPES = {
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/feed+json",
    ".opml": "text/x-opml",
    ".gz": "application/rss+xml",
}


@pytest.fixture(autouse=True)
def corpus_present() -> None:
    """Skipped without ../shared locally; failed with a clear message under CI=true."""
    require_corpus()


@dataclass(frozen=True)
class Served:
    path: Path  # relative to the corpus
    route: str
    url: str


def corpus_files(folder: str | None = None) -> list[Path]:
    root = CORPUS / folder if folder else CORPUS
    return sorted(
        p.relative_to(CORPUS)
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(CORPUS).as_posix() not in SKIP
    )


def serve(srv: FeedServer, files: list[Path]) -> list[Served]:
    served = []
    for n, rel in enumerate(files):
        data = (CORPUS / rel).read_bytes()
        headers = [("Content-Type", CONTENT_TYPES.get(rel.suffix, "application/octet-stream"))]
        if rel.suffix == ".gz":
            headers.append(("Content-Encoding", "gzip"))
        route = f"/{rel.parts[0]}/{n}{rel.suffix}"
        srv.reply(route, Response(200, data, headers))
        served.append(Served(rel, route, srv.url(route)))
    return served


def poll_all(engine: Engine, served: list[Served]) -> RunReport:
    config = parse_config(
        {
            "sources": [{"url": s.url, "kind": "feed"} for s in served],
            "poller": {
                "allow_private_networks": True,
                "concurrency": 32,
                "per_host": 32,
                "total_timeout": 60,
                "max_items_per_feed": MAX_ITEMS,
            },
        }
    )
    return asyncio.run(Poller(engine, config).run_once(force=True))


def sources_by_url(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        sightings = dict(
            conn.execute(select(SIGHTING.c.source_id, func.count()).group_by(SIGHTING.c.source_id)).all()
        )
        rows = {r["url"]: dict(r) for r in conn.execute(select(SOURCE)).mappings()}
    for row in rows.values():
        row["sightings"] = int(sightings.get(row["id"], 0))
    return rows


# --------------------------------------------------------------------------- the oracle
# Distinct entries as a feed reader sees them: feedparser's entries, told apart by their id,
# else their link, else their title, else their content. Nothing of ours is used here.


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _content(*parts: Any) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts], ensure_ascii=False).encode()).hexdigest()


def _reader_identity(entry_id: Any, link: Any, title: Any, content: str) -> tuple[str, str]:
    for kind, value in (("id", entry_id), ("link", link), ("title", title)):
        if text := _text(value):
            return kind, text
    return "content", content


def expected_items(data: bytes, url: str) -> int | None:
    """How many distinct entries the file holds, or None when feedparser finds none."""
    entries = expected_entries(data, url)
    return len(entries) if entries else None


def expected_entries(data: bytes, url: str) -> set[tuple[str, str]] | None:
    """The file's distinct entries, each named by id, else link, else title, else content."""
    stripped = data.lstrip()
    if stripped[:1] == b"{":
        return _expected_json(stripped)
    result = feedparser.parse(io.BytesIO(data), response_headers={"content-location": url})
    entries = list(result.get("entries") or [])[:MAX_ITEMS]
    if not entries:
        return None
    return {
        _reader_identity(
            e.get("id"),
            e.get("link"),
            e.get("title"),
            _content(e.get("title"), e.get("summary"), e.get("published"), e.get("content")),
        )
        for e in entries
    }


def _expected_json(data: bytes) -> set[tuple[str, str]] | None:
    try:
        document = json.loads(data)
    except ValueError:
        return None
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        return None
    items = [i for i in document.get("items") or [] if isinstance(i, dict)][:MAX_ITEMS]
    if not items:
        return None
    found = set()
    for item in items:
        raw_id = item.get("id")
        entry_id = (
            str(raw_id) if isinstance(raw_id, str | int | float) and not isinstance(raw_id, bool) else None
        )
        link = item.get("url") if _text(item.get("url")) else item.get("external_url")
        found.add(
            _reader_identity(entry_id, link, item.get("title"), _content(json.dumps(item, sort_keys=True)))
        )
    return found


def file_bytes(rel: Path) -> bytes:
    data = (CORPUS / rel).read_bytes()
    return gzip.decompress(data) if rel.suffix == ".gz" else data


# --------------------------------------------------------------------------- checks


def check_outcomes(engine: Engine, served: list[Served], report: RunReport) -> Counter[str]:
    """Every source ok or failed with a recorded category; returns a tally."""
    assert report.locked_by is None
    assert len(report.outcomes) == len(served)
    rows = sources_by_url(engine)
    tally: Counter[str] = Counter()
    problems = []
    for s in served:
        row = rows[s.url]
        status = row["last_status"]
        if status in OK:
            tally["ok"] += 1
            continue
        category, message = row["error_category"], row["last_error"] or ""
        if status != "error" or category not in CATEGORIES or not message or message.startswith("unexpected"):
            problems.append((s.path.as_posix(), status, category, message))
        tally[f"failed:{category}"] += 1
    assert not problems, problems
    return tally


def check_real_counts(engine: Engine, served: list[Served]) -> list[str]:
    """Items stored per real/ source equal the oracle's distinct entries; returns the files compared."""
    rows = sources_by_url(engine)
    compared, mismatches = [], []
    for s in served:
        expected = expected_items(file_bytes(s.path), s.url)
        if expected is None:
            continue
        got = rows[s.url]["sightings"]
        compared.append(s.path.as_posix())
        if got != expected:
            mismatches.append((s.path.as_posix(), rows[s.url]["last_status"], expected, got))
    assert not mismatches, mismatches
    return compared


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    with FeedServer(idle_timeout=30) as srv:
        yield srv


def test_whole_corpus_through_the_poller(sqlite_engine: Engine, server: FeedServer) -> None:
    started = time.monotonic()
    files = corpus_files()
    folders = sorted({f.parts[0] for f in files})
    assert folders == ["feedparser", "real"]
    assert len(files) == 2248
    tally: Counter[str] = Counter()
    served_real: list[Served] = []
    for folder in folders:
        served = serve(server, [f for f in files if f.parts[0] == folder])
        report = poll_all(sqlite_engine, served)
        tally += check_outcomes(sqlite_engine, served, report)
        if folder == "real":
            served_real = served
    assert not server.errors
    compared = check_real_counts(sqlite_engine, served_real)
    assert len(compared) >= 110

    with sqlite_engine.connect() as conn:
        items = conn.execute(select(func.count()).select_from(ITEM)).scalar()
        sightings = conn.execute(select(func.count()).select_from(SIGHTING)).scalar()
    failed = {k.split(":", 1)[1]: v for k, v in sorted(tally.items()) if k.startswith("failed:")}
    print(
        f"\ncorpus: {len(files)} files, {tally['ok']} sources ok, "
        f"{sum(failed.values())} failed {failed}, {items} items stored ({sightings} sightings), "
        f"{len(compared)} real/ files matched feedparser's entry count, "
        f"{time.monotonic() - started:.1f}s"
    )
    assert tally["ok"] + sum(failed.values()) == len(files)
    # The real-world captures that must be readable are read.
    rows = sources_by_url(sqlite_engine)
    status = {s.path.as_posix(): rows[s.url] for s in served_real}
    assert status["real/misc/not-a-feed-html.rss"]["error_category"] == "not_a_feed"
    assert status["real/misc/scriptingnews-rss-in-json-NOT-jsonfeed.json"]["error_category"] == "not_a_feed"
    for readable in (
        "real/encodings/gzip-compressed-windows-1251-oren.ru.rss.gz",
        "real/ja/shift_jis/cp932-y-moto.com.atom",
        "real/encodings/utf-16le-no-bom-no-decl.rss",
        "real/encodings/utf-16be-no-bom-no-decl.rss",
        "real/ja/hatena-bookmark/hotentry-all-2018-feedburner.rdf",
    ):
        assert status[readable]["last_status"] in OK and status[readable]["sightings"] > 0, readable


@pytest.mark.postgres
def test_real_captures_on_postgresql(pg_url: str, server: FeedServer) -> None:
    engine = make_engine(pg_url)
    try:
        served = serve(server, corpus_files("real"))
        report = poll_all(engine, served)
        tally = check_outcomes(engine, served, report)
        compared = check_real_counts(engine, served)
        assert len(compared) >= 110
        assert tally["ok"] >= 115
    finally:
        engine.dispose()


def test_consecutive_hatena_polls_update_without_duplicates(sqlite_engine: Engine) -> None:
    folder = CORPUS / "real/ja/hatena-bookmark"
    bodies = [(folder / f"hotentry-2016-poll{n}.rdf").read_bytes() for n in (1, 2)]
    with FeedServer() as srv:
        url = srv.url("/hotentry.rdf")
        srv.sequence(
            "/hotentry.rdf", [Response(200, b, [("Content-Type", "application/rss+xml")]) for b in bodies]
        )
        config = parse_config(
            {"sources": [{"url": url, "kind": "site"}], "poller": {"allow_private_networks": True}}
        )
        reports = [asyncio.run(Poller(sqlite_engine, config).run_once(force=True)) for _ in range(3)]
    first, second = (expected_entries(b, url) for b in bodies)
    assert first and second and first != second
    assert [r.outcomes[0].status for r in reports] == ["new", "new", "unchanged"]
    assert reports[1].outcomes[0].new == len(second - first)
    with sqlite_engine.connect() as conn:
        items = conn.execute(select(func.count()).select_from(ITEM)).scalar()
        sightings = conn.execute(select(func.count()).select_from(SIGHTING)).scalar()
    assert items == sightings == len(first | second)
