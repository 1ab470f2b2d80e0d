"""Parsing in worker processes ([poller] parse_workers > 1): the same results as parsing in
the writer thread, and every failure of a worker (an exception, a dead process, a broken
pool) recorded on the source, never a crash of the run."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer
from sqlalchemy.engine import Engine
from test_poller import (
    GO,
    K8S,
    RDF,
    ROOT,
    by_url,
    hatena_rdf,
    items,
    make_config,
    poll,
    source_row,
    write_toml,
)

import aggregator.poller.parsing as parsing
from aggregator.config import parse_config
from aggregator.db import make_engine
from aggregator.ingest import SourceInfo
from aggregator.poller import Poller
from aggregator.poller.parsing import Failed, ParseJob, ParsePool, Prepared, pool_size, prepare

SAMPLES = ROOT / "feeds" / "samples"
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
SAMPLE_TYPES = {".rdf": RDF, ".rss": RDF, ".xml": "application/xml", ".json": "application/feed+json"}


def sample_job(path: Path) -> ParseJob:
    return ParseJob(
        body=path.read_bytes(),
        headers={"content-type": SAMPLE_TYPES[path.suffix]},
        url=f"https://example.org/{path.name}",
        now=NOW,
        max_entries=1000,
        source=SourceInfo(1, "site", ("sample",)),
        aliases={"k8s": "kubernetes"},
    )


# Tasks the workers run in the tests below (module level, so a worker process imports them by name).


def boom_on_marker(job: ParseJob) -> Prepared | Failed:
    if b"BOOM" in job.body:
        raise RuntimeError("parser exploded")
    return prepare(job)


def die_on_marker(job: ParseJob) -> Prepared | Failed:
    if b"DIE" in job.body:
        os._exit(7)  # the worker process dies: the pool breaks
    return prepare(job)


def use_pool(monkeypatch: pytest.MonkeyPatch, task: Any = prepare, workers: int = 2) -> list[ParsePool]:
    """Make every Poller parse in a pool running ``task``; returns the pools made."""
    made: list[ParsePool] = []

    def make(self: Poller) -> ParsePool:
        made.append(ParsePool(workers, task))
        return made[-1]

    monkeypatch.setattr(Poller, "_parse_pool", make)
    return made


# --------------------------------------------------------------------------- plain data across processes


@pytest.mark.parametrize("path", sorted(SAMPLES.iterdir()), ids=lambda p: p.name)
def test_a_sample_parses_to_the_same_plain_data_in_a_worker_as_in_process(path: Path) -> None:
    job = sample_job(path)
    here = prepare(job)
    assert pickle.loads(pickle.dumps(here)) == here
    pool = ParsePool(2)
    try:
        there = asyncio.run(pool.run(job))
    finally:
        pool.shutdown()
    assert there == here
    if path.name != "broken.xml":
        assert isinstance(here, Prepared) and here.incoming


def test_an_unexpected_parser_exception_becomes_a_parse_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: Any, **kw: Any) -> Any:
        raise KeyError("surprise")

    monkeypatch.setattr(parsing, "parse_feed", explode)
    result = prepare(sample_job(SAMPLES / "deeeet-blog.rss"))
    assert isinstance(result, Failed)
    assert result.category == "parse" and "KeyError" in result.message
    assert result.detail and "explode" in result.detail


def test_pool_size_follows_the_config_then_the_environment_then_the_cpus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(parsing.WORKERS_ENV, "3")
    assert pool_size(0) == 0 and pool_size(5) == 5 and pool_size(None) == 3
    monkeypatch.delenv(parsing.WORKERS_ENV)
    assert pool_size(None) == (os.cpu_count() or 1)
    assert parse_config({"poller": {"parse_workers": 4}}).poller.parse_workers == 4
    with pytest.raises(Exception, match="number of processes"):
        parse_config({"poller": {"parse_workers": -1}})


# --------------------------------------------------------------------------- the poller with a pool


def serve_samples(srv: FeedServer) -> list[dict[str, Any]]:
    sources = []
    for path in sorted(SAMPLES.iterdir()):
        srv.route(f"/{path.name}", path.read_bytes(), content_type=SAMPLE_TYPES[path.suffix])
        sources.append({"url": srv.url(f"/{path.name}"), "kind": "site", "tags": ["sample"]})
    return sources


def snapshot(engine: Engine, urls: list[str]) -> tuple[Any, ...]:
    rows = [source_row(engine, url) for url in urls]
    sources = [
        (r["last_status"], r["error_category"], r["last_error"], r["last_warning"], r["feed_title"])
        for r in rows
    ]
    stored = sorted(
        (
            i.link or "",
            i.title,
            i.summary or "",
            i.content or "",
            tuple(sorted(i.tags)),
            i.bookmark_count or 0,
        )
        for i in items(engine)
    )
    return tuple(sources), tuple(stored)


def test_samples_polled_through_the_pool_store_what_in_process_parsing_stores(
    engine: Engine, srv: FeedServer, tmp_path: Path
) -> None:
    sources = serve_samples(srv)
    urls = [s["url"] for s in sources]
    # one source at a time, so both runs write in the same order (equal ranks: the first one's text stays)
    pooled = poll(engine, make_config(sources, parse_workers=2, concurrency=1))
    reference = make_engine(f"sqlite:///{tmp_path / 'in-process.db'}")
    try:
        in_process = poll(reference, make_config(sources, parse_workers=0, concurrency=1))
        assert sorted((o.url, o.status, o.new) for o in pooled.outcomes) == sorted(
            (o.url, o.status, o.new) for o in in_process.outcomes
        )
        assert snapshot(engine, urls) == snapshot(reference, urls)
    finally:
        reference.dispose()
    assert len(items(engine)) > 0
    statuses = {url: source_row(engine, url)["last_status"] for url in urls}
    assert statuses[srv.url("/broken.xml")] in ("error", "new")
    # the same bodies again: the hash skip happens before the pool, nothing is parsed
    again = by_url(poll(engine, make_config(sources, parse_workers=2)))
    assert {again[url].status for url in urls if statuses[url] != "error"} <= {"unchanged", "not_modified"}


def test_an_exception_in_a_worker_is_a_parse_error_on_that_source_only(
    engine: Engine, srv: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_pool(monkeypatch, boom_on_marker)
    srv.route("/ok.rdf", hatena_rdf("ok", [GO]), content_type=RDF)
    srv.route("/boom.rdf", hatena_rdf("BOOM", [K8S]), content_type=RDF)
    ok, boom = srv.url("/ok.rdf"), srv.url("/boom.rdf")
    config = make_config([{"url": ok, "kind": "site"}, {"url": boom, "kind": "site"}])

    outcomes = by_url(poll(engine, config))

    assert outcomes[ok].status == "new" and outcomes[ok].new == 1
    assert outcomes[boom].status == "error" and outcomes[boom].category == "parse"
    assert "RuntimeError" in (outcomes[boom].message or "")
    row = source_row(engine, boom)
    assert row["error_category"] == "parse" and row["consecutive_errors"] == 1
    assert row["last_http_status"] == 200 and row["body_hash"] is None
    assert [i.link for i in items(engine)] == [GO.link]  # nothing of the failed source written


def test_a_dead_worker_breaks_the_pool_and_the_run_still_finishes_and_the_next_run_works(
    engine: Engine, srv: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pools = use_pool(monkeypatch, die_on_marker)
    good = [f"/good{n}.rdf" for n in range(6)]
    for n, path in enumerate(good):
        srv.route(path, hatena_rdf(f"good {n}", [GO, K8S]), content_type=RDF)
    srv.route("/die.rdf", hatena_rdf("DIE", [K8S]), content_type=RDF)
    urls = [srv.url(p) for p in [*good, "/die.rdf"]]
    config = make_config([{"url": u, "kind": "site"} for u in urls])

    report = poll(engine, config)

    outcomes = by_url(report)
    assert sorted(outcomes) == sorted(urls)  # every source has its outcome: the run finished
    dead = outcomes[srv.url("/die.rdf")]
    assert dead.status == "error" and dead.category == "parse"
    assert "process died" in (dead.message or "")
    for url in urls:  # a source in flight when the pool broke failed whole; the others were written
        outcome, row = outcomes[url], source_row(engine, url)
        assert outcome.status in ("new", "updated", "error")  # the same two items in every feed
        if outcome.status == "error":
            assert row["error_category"] == "parse" and row["body_hash"] is None
        else:
            assert row["last_status"] == outcome.status and row["body_hash"]
    assert pools[0]._executor is None  # shut down at the end of the run

    srv.route("/die.rdf", hatena_rdf("fine now", [K8S]), content_type=RDF)
    again = by_url(poll(engine, config))
    assert {again[u].status for u in urls} <= {"new", "updated", "unchanged"}
    assert all(source_row(engine, u)["error_category"] is None for u in urls)
    assert sorted(i.link for i in items(engine)) == sorted([GO.link, K8S.link])


def test_the_loop_shuts_its_pool_down_when_stopped(engine: Engine, srv: FeedServer) -> None:
    srv.route("/loop.rdf", hatena_rdf("loop", [GO]), content_type=RDF)
    config = make_config([{"url": srv.url("/loop.rdf"), "kind": "site"}], parse_workers=2)
    seen: list[ParsePool] = []

    async def go() -> None:
        stop = asyncio.Event()
        poller = Poller(engine, config, on_outcome=lambda o: stop.set())
        make = poller._parse_pool

        def tracked() -> ParsePool | None:
            pool = make()
            assert pool is not None
            seen.append(pool)
            return pool

        poller._parse_pool = tracked  # type: ignore[method-assign]
        await poller.run_loop(stop)

    asyncio.run(go())
    assert len(seen) == 1 and seen[0]._executor is None
    assert [i.link for i in items(engine)] == [GO.link]


def test_poll_loop_with_a_pool_exits_zero_on_sigterm_leaving_no_process(
    engine: Engine, db_url: str, srv: FeedServer, tmp_path: Path
) -> None:
    srv.route("/loop.rdf", hatena_rdf("loop", [GO]), content_type=RDF)
    url = srv.url("/loop.rdf")
    toml = write_toml(tmp_path / "feeds.toml", [{"url": url, "kind": "site"}])
    env = {**os.environ, "PYTHONPATH": str(ROOT), parsing.WORKERS_ENV: "2"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator.cli", "--config", str(toml), "--db", db_url, "poll", "--loop"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the workers and the fork server join it
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None and not items(engine):
            time.sleep(0.1)
        assert [i.link for i in items(engine)] == [GO.link], proc.poll()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped after 1 passes" in out
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("parser processes outlived the poller")
