"""The poller end to end: a real HTTP server on 127.0.0.1, a real database (SQLite file and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from feedserver import FeedServer, Response, stall
from sqlalchemy import select
from sqlalchemy.engine import Engine

import aggregator.poller.source as poller_source
from aggregator import cli
from aggregator.config import Config, parse_config
from aggregator.db import make_engine
from aggregator.filters import parse_filter
from aggregator.models import Source, table_of
from aggregator.poller import LOCK_NAME, Poller, RunReport, SourceOutcome, is_dead_local_owner
from aggregator.store import locks
from aggregator.store.common import read_data_version
from aggregator.store.slices import select_slice
from aggregator.store.sources import sync_sources
from aggregator.views import ItemView

SOURCE = table_of(Source)
ROOT = Path(__file__).resolve().parents[1]
RDF = "application/rss+xml; charset=utf-8"
HTTP_DATE = "Wed, 21 Oct 2015 07:28:00 GMT"


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Entry:
    """One item of a Hatena-style RSS 1.0 document."""

    link: str
    title: str
    tags: tuple[str, ...] = ()
    count: int | None = None
    creator: str | None = None
    description: str | None = None
    date: str = "2024-02-07T08:41:03+09:00"


def hatena_rdf(title: str, entries: Sequence[Entry], about: str = "https://b.hatena.ne.jp/x.rss") -> bytes:
    """A Hatena Bookmark style RSS 1.0 document: dc:subject tags, hatena:bookmarkcount, dc:creator."""
    seq = "".join(f'<rdf:li rdf:resource="{escape(e.link)}"/>' for e in entries)
    items = []
    for e in entries:
        parts = [
            f'<item rdf:about="{escape(e.link)}">',
            f"<title>{escape(e.title)}</title>",
            f"<link>{escape(e.link)}</link>",
        ]
        if e.description is not None:
            parts.append(f"<description>{escape(e.description)}</description>")
        if e.creator is not None:
            parts.append(f"<dc:creator>{escape(e.creator)}</dc:creator>")
        parts.append(f"<dc:date>{e.date}</dc:date>")
        parts.extend(f"<dc:subject>{escape(t)}</dc:subject>" for t in e.tags)
        if e.count is not None:
            parts.append(f"<hatena:bookmarkcount>{e.count}</hatena:bookmarkcount>")
        parts.append("</item>")
        items.append("\n".join(parts))
    doc = f"""<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:hatena="http://www.hatena.ne.jp/info/xmlns#">
<channel rdf:about="{escape(about)}">
<title>{escape(title)}</title>
<link>https://b.hatena.ne.jp/</link>
<description>{escape(title)}</description>
<items><rdf:Seq>{seq}</rdf:Seq></items>
</channel>
{chr(10).join(items)}
</rdf:RDF>
"""
    return doc.encode("utf-8")


def rss2(title: str, items: Sequence[tuple[str, str]]) -> bytes:
    """A small RSS 2.0 document of (link, title) items."""
    body = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link>"
        f"<pubDate>Mon, 05 Feb 2024 10:00:00 GMT</pubDate></item>"
        for link, t in items
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
        f"<link>https://example.org/</link>{body}</channel></rss>"
    ).encode()


def make_config(
    sources: Sequence[dict[str, Any]], aliases: dict[str, str] | None = None, **poller: Any
) -> Config:
    options = {"allow_private_networks": True, "total_timeout": 5, "connect_timeout": 2, **poller}
    return parse_config({"sources": list(sources), "aliases": aliases or {}, "poller": options})


def poll(engine: Engine, config: Config, *, force: bool = True, **kw: Any) -> RunReport:
    return asyncio.run(Poller(engine, config, **kw).run_once(force=force))


def by_url(report: RunReport) -> dict[str, SourceOutcome]:
    return {o.url: o for o in report.outcomes}


def source_row(engine: Engine, url: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(SOURCE).where(SOURCE.c.url == url)).mappings().one())


def items(engine: Engine, aliases: dict[str, str] | None = None, **params: Any) -> list[ItemView]:
    flt = parse_filter({"limit": "500", **params}, aliases=aliases, now=datetime.now(UTC))
    with engine.connect() as conn:
        return select_slice(conn, flt)


def data_version(engine: Engine) -> int:
    with engine.connect() as conn:
        return read_data_version(conn)


def closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def write_toml(path: Path, sources: Sequence[dict[str, Any]], **poller: Any) -> Path:
    options = {"allow_private_networks": True, "total_timeout": 5, "connect_timeout": 2, **poller}
    lines = ["[poller]", *(f"{k} = {toml_value(v)}" for k, v in options.items()), ""]
    for src in sources:
        lines.append("[[sources]]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in src.items())
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def srv() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def parse_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every URL the poller hands to the feed parser."""
    calls: list[str] = []
    real = poller_source.parse_feed

    def counting(body: bytes, headers: Any, url: str, **kw: Any) -> Any:
        calls.append(url)
        return real(body, headers, url, **kw)

    monkeypatch.setattr(poller_source, "parse_feed", counting)
    return calls


GO = Entry("https://go.dev/blog/go1.22", "Go 1.22 is released!", ("Go", "release"), 199)
K8S = Entry("https://deeeet.com/writing/2024/01/15/k8s/", "Kubernetesの話", ("kubernetes",), 42)


# --------------------------------------------------------------------------- 1. conditional GET


def test_conditional_get_sends_validators_verbatim_and_skips_parsing_on_304(
    engine: Engine, srv: FeedServer, parse_calls: list[str]
) -> None:
    etag = 'W/"5e1-abc"'
    srv.conditional("/c.rdf", hatena_rdf("c", [GO, K8S]), etag=etag, last_modified=HTTP_DATE)
    url = srv.url("/c.rdf")
    config = make_config([{"url": url, "kind": "site"}])

    first = by_url(poll(engine, config))[url]
    assert first.status == "new" and first.new == 2
    row = source_row(engine, url)
    assert (row["etag"], row["last_modified"]) == (etag, HTTP_DATE)
    assert srv.last("/c.rdf").header("If-None-Match") is None
    before = [(i.id, i.version, i.title) for i in items(engine)]
    version = data_version(engine)
    assert len(parse_calls) == 1

    second = by_url(poll(engine, config))[url]
    request = srv.last("/c.rdf")
    assert request.header("If-None-Match") == etag
    assert request.header("If-Modified-Since") == HTTP_DATE
    assert second.status == "not_modified" and second.new == second.updated == 0
    assert len(parse_calls) == 1
    assert [(i.id, i.version, i.title) for i in items(engine)] == before
    assert data_version(engine) == version
    row = source_row(engine, url)
    assert row["last_status"] == "not_modified" and row["last_http_status"] == 304
    assert (row["etag"], row["last_modified"]) == (etag, HTTP_DATE)


def test_same_body_without_validators_is_unchanged_and_not_parsed(
    engine: Engine, srv: FeedServer, parse_calls: list[str]
) -> None:
    srv.route("/plain.rdf", hatena_rdf("plain", [GO, K8S]), content_type=RDF)
    url = srv.url("/plain.rdf")
    config = make_config([{"url": url, "kind": "site"}])

    assert by_url(poll(engine, config))[url].status == "new"
    before = [(i.id, i.version) for i in items(engine)]
    version = data_version(engine)
    second = by_url(poll(engine, config))[url]

    assert second.status == "unchanged"
    assert srv.count("/plain.rdf") == 2
    assert srv.last("/plain.rdf").header("If-None-Match") is None
    assert srv.last("/plain.rdf").header("If-Modified-Since") is None
    assert len(parse_calls) == 1
    assert [(i.id, i.version) for i in items(engine)] == before
    assert len(before) == 2
    assert data_version(engine) == version
    assert source_row(engine, url)["last_status"] == "unchanged"


# --------------------------------------------------------------------------- 2. one article, three sources


def test_site_tag_and_user_feeds_merge_into_one_item(engine: Engine, srv: FeedServer) -> None:
    link = "https://deeeet.com/writing/2024/01/15/k8s-operator/"
    other = Entry("https://example.jp/other", "別の記事", ("その他",), 3)
    srv.route(
        "/site.rdf",
        hatena_rdf(
            "deeeet.com の新着エントリー",
            [Entry(link, "Kubernetes Operatorを書いた", ("K8s", "Go"), 120, "deeeet", "記事の概要")],
        ),
        content_type=RDF,
    )
    srv.route(
        "/tag.rdf",
        hatena_rdf(
            "タグ「kubernetes」を含む新着エントリー",
            [Entry(link, "Kubernetes Operatorを書いた - deeeet", ("kubernetes", "クラウド"), 150), other],
        ),
        content_type=RDF,
    )
    srv.route(
        "/user.rdf",
        hatena_rdf(
            "umiyoshのブックマーク",
            [
                Entry(
                    link,
                    "Kubernetes Operatorを書いた",
                    ("k8s", "あとで読む"),
                    90,
                    "umiyosh",
                    "あとで読む。良記事",
                )
            ],
        ),
        content_type=RDF,
    )
    aliases = {"K8s": "kubernetes"}
    urls = {kind: srv.url(f"/{kind}.rdf") for kind in ("site", "tag", "user")}
    config = make_config(
        [
            {"url": urls["site"], "kind": "site"},
            {"url": urls["tag"], "kind": "tag", "tags": ["Kubernetes", "インフラ"]},
            {"url": urls["user"], "kind": "user"},
        ],
        aliases=aliases,
    )

    report = poll(engine, config)
    assert {o.status for o in report.outcomes} <= {"new", "updated"}, report.outcomes

    found = [i for i in items(engine) if i.link == link]
    assert len(found) == 1
    item = found[0]
    assert item.title == "Kubernetes Operatorを書いた"  # the per-site feed outranks the tag feed
    assert item.bookmark_count == 150
    assert set(item.tag_names) == {"kubernetes", "go", "クラウド", "あとで読む", "インフラ"}
    assert len(item.tag_names) == len(set(item.tag_names)) == len(item.tags)
    assert "k8s" not in item.tag_names
    assert {s.kind for s in item.sources} == {"site", "tag", "user"}
    refs = {s.kind: s for s in item.sources}
    assert {refs[k].url for k in refs} == set(urls.values())
    assert refs["user"].user == "umiyosh"
    assert refs["user"].comment == "あとで読む。良記事"
    assert refs["site"].user is None and refs["site"].comment is None
    assert refs["tag"].comment is None

    # The alias works when filtering too, and the configured tag reaches items of that source only.
    tagged = {i.link for i in items(engine, config.aliases, tag="K8s")}
    assert tagged == {link, other.link}  # the tag source's configured tag applies to all its items
    assert {i.link for i in items(engine, tag="インフラ")} == {link, other.link}
    assert {i.link for i in items(engine, tag="go")} == {link}
    assert items(engine, tag="あとで読む")[0].id == item.id

    # A second forced pass changes nothing.
    version = data_version(engine)
    again = poll(engine, config)
    assert {o.status for o in again.outcomes} == {"unchanged"}
    assert data_version(engine) == version
    assert [i.version for i in items(engine) if i.link == link] == [item.version]


# --------------------------------------------------------------------------- 3. tracking parameters


def test_tracking_parameters_fragments_host_case_and_scheme_do_not_split_items(
    engine: Engine, srv: FeedServer
) -> None:
    variants = [
        "https://example.com/post/1?id=7",
        "https://example.com/post/1?utm_source=hatena&id=7&utm_medium=rss&utm_campaign=x",
        "https://EXAMPLE.com/post/1?id=7&fbclid=IwAR0abc",
        "http://example.com/post/1?gclid=CjwK&id=7#comments",
        "HTTPS://Example.COM:443/post/1?id=7#top",
    ]
    distinct = "https://example.com/post/1?id=8&utm_source=x"
    srv.route("/a.rss", rss2("a", [(variants[0], "記事"), (distinct, "別")]))
    srv.route("/e.rss", rss2("e", [(variants[1], "記事")]))
    srv.route("/b.rss", rss2("b", [(variants[2], "記事")]))
    srv.route("/c.rdf", hatena_rdf("c", [Entry(variants[3], "記事", ("x",), 5)]), content_type=RDF)
    srv.route("/d.rdf", hatena_rdf("d", [Entry(variants[4], "記事", ("y",), 9)]), content_type=RDF)
    config = make_config(
        [
            {"url": srv.url("/a.rss"), "kind": "feed"},
            {"url": srv.url("/e.rss"), "kind": "feed"},
            {"url": srv.url("/b.rss"), "kind": "feed"},
            {"url": srv.url("/c.rdf"), "kind": "tag"},
            {"url": srv.url("/d.rdf"), "kind": "user"},
        ]
    )
    report = poll(engine, config)
    assert all(o.status in ("new", "updated") for o in report.outcomes), report.outcomes

    stored = items(engine)
    assert len(stored) == 2
    same = next(i for i in stored if i.title == "記事")
    assert same.key == "https://example.com/post/1?id=7"
    assert len(same.sources) == 5
    assert set(same.tag_names) == {"x", "y"}
    assert same.bookmark_count == 9
    other = next(i for i in stored if i.title == "別")
    assert other.link == "https://example.com/post/1?id=8"


# --------------------------------------------------------------------------- 4. updates in place


def test_changed_item_is_updated_in_place_and_nothing_is_ever_deleted(
    engine: Engine, srv: FeedServer
) -> None:
    a1 = Entry("https://example.jp/a", "最初のタイトル", ("go",), 10)
    a2 = Entry("https://example.jp/a", "新しいタイトル", ("go",), 25)
    b = Entry("https://example.jp/b", "B記事", ("rust",), 3)
    empty = hatena_rdf("feed", [])
    srv.sequence(
        "/f.rdf",
        [
            Response(200, hatena_rdf("feed", [a1, b]), [("Content-Type", RDF)]),
            Response(200, hatena_rdf("feed", [a2, b]), [("Content-Type", RDF)]),
            Response(200, hatena_rdf("feed", [b]), [("Content-Type", RDF)]),
            Response(200, empty, [("Content-Type", RDF)]),
            Response(500, b"internal error"),
        ],
    )
    url = srv.url("/f.rdf")
    config = make_config([{"url": url, "kind": "site"}])

    assert by_url(poll(engine, config))[url].status == "new"
    first = {i.link: i for i in items(engine)}
    assert set(first) == {a1.link, b.link}

    outcome = by_url(poll(engine, config))[url]
    assert (outcome.status, outcome.new, outcome.updated) == ("updated", 0, 1)
    second = {i.link: i for i in items(engine)}
    changed = second[a1.link]
    assert changed.id == first[a1.link].id
    assert changed.first_seen == first[a1.link].first_seen
    assert changed.version == first[a1.link].version + 1
    assert (changed.title, changed.bookmark_count) == ("新しいタイトル", 25)
    assert second[b.link].version == first[b.link].version

    for expected in ("unchanged", "unchanged", "error"):
        assert by_url(poll(engine, config))[url].status == expected
        now = {i.link: i for i in items(engine)}
        assert set(now) == {a1.link, b.link}
        assert now[a1.link].title == "新しいタイトル"
        assert now[a1.link].id == changed.id
    row = source_row(engine, url)
    assert (row["last_status"], row["error_category"], row["last_http_status"]) == ("error", "http_5xx", 500)


# --------------------------------------------------------------------------- 5. failures, recorded


def test_failures_are_recorded_with_backoff_and_do_not_stop_the_run(
    engine: Engine, db_url: str, srv: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    srv.route("/good.rdf", hatena_rdf("good", [GO]), content_type=RDF)
    srv.route(
        "/page.html",
        b"<!DOCTYPE html><html><head><title>Moved</title></head><body>x</body></html>",
        content_type="text/html",
    )
    srv.route("/cut.xml", hatena_rdf("cut", [GO, K8S])[:300], content_type="application/xml")
    dead = f"http://127.0.0.1:{closed_port()}/feed.rdf"
    sources = [
        {"url": srv.url("/good.rdf"), "kind": "site", "title": "good"},
        {"url": dead, "kind": "feed", "title": "dead"},
        {"url": srv.url("/page.html"), "kind": "feed", "title": "html"},
        {"url": srv.url("/cut.xml"), "kind": "feed", "title": "cut"},
    ]
    config = make_config(sources)
    expected = {dead: "connect", srv.url("/page.html"): "not_a_feed", srv.url("/cut.xml"): "parse"}

    report = poll(engine, config)
    outcomes = by_url(report)
    assert outcomes[srv.url("/good.rdf")].status == "new"
    assert len(items(engine)) == 1
    delays: dict[str, timedelta] = {}
    for url, category in expected.items():
        assert (outcomes[url].status, outcomes[url].category) == ("error", category)
        row = source_row(engine, url)
        assert (row["last_status"], row["error_category"], row["consecutive_errors"]) == (
            "error",
            category,
            1,
        )
        assert row["last_error"] and not row["last_error"].startswith("unexpected")
        assert row["last_error"] == outcomes[url].message
        assert row["next_poll_at"] > row["last_polled_at"]
        delays[url] = row["next_poll_at"] - row["last_polled_at"]
    assert "1 new items" in report.summary() and "3 failed" in report.summary()

    poll(engine, config)
    for url, category in expected.items():
        row = source_row(engine, url)
        assert (row["error_category"], row["consecutive_errors"]) == (category, 2)
        assert row["next_poll_at"] - row["last_polled_at"] > delays[url]
    good = source_row(engine, srv.url("/good.rdf"))
    assert (good["consecutive_errors"], good["last_error"], good["error_category"]) == (0, None, None)

    # A source that recovers resets its error count.
    srv.route("/page.html", hatena_rdf("now a feed", [K8S]), content_type=RDF)
    poll(engine, config)
    healed = source_row(engine, srv.url("/page.html"))
    assert (healed["last_status"], healed["consecutive_errors"], healed["last_error"]) == ("new", 0, None)

    toml = write_toml(tmp_path / "feeds.toml", sources)
    capsys.readouterr()
    assert cli.main(["--config", str(toml), "--db", db_url, "poll", "--force"]) == 0
    out = capsys.readouterr().out.splitlines()
    for label, status in (("good", "unchanged"), ("dead", "error [connect]"), ("cut", "error [parse]")):
        assert sum(1 for line in out if line.startswith(f"{label}: ")) == 1, out
        assert any(line.startswith(f"{label}: {status}") for line in out), out
    assert any(line.startswith("html: ") for line in out)
    assert out[-1].startswith("4 sources polled in ") and out[-1].endswith("2 failed"), out


# --------------------------------------------------------------------------- 6. 410 and 429


def test_gone_source_is_never_polled_again_and_keeps_its_items(engine: Engine, srv: FeedServer) -> None:
    srv.sequence(
        "/old.rdf",
        [Response(200, hatena_rdf("old", [GO, K8S]), [("Content-Type", RDF)]), Response(410, b"gone")],
    )
    url = srv.url("/old.rdf")
    config = make_config([{"url": url, "kind": "site"}])
    assert by_url(poll(engine, config))[url].status == "new"
    outcome = by_url(poll(engine, config))[url]
    assert (outcome.status, outcome.category) == ("gone", "http_4xx")
    row = source_row(engine, url)
    assert (row["gone"], row["last_status"], row["last_http_status"], row["next_poll_at"]) == (
        True,
        "gone",
        410,
        None,
    )

    assert poll(engine, config).outcomes == []
    assert poll(engine, config, force=False).outcomes == []
    assert srv.count("/old.rdf") == 2
    assert {i.link for i in items(engine)} == {GO.link, K8S.link}
    assert len(items(engine, source=url)) == 2


def test_too_many_requests_honours_retry_after(engine: Engine, srv: FeedServer) -> None:
    srv.route("/busy.rdf", b"slow down", status=429, headers={"Retry-After": "7200"})
    url = srv.url("/busy.rdf")
    config = make_config([{"url": url, "kind": "tag"}], interval="10m")
    before = datetime.now(UTC)
    outcome = by_url(poll(engine, config))[url]
    assert (outcome.status, outcome.category) == ("error", "http_4xx")
    row = source_row(engine, url)
    assert row["last_http_status"] == 429 and not row["gone"]
    assert row["next_poll_at"] >= before + timedelta(hours=2)
    assert row["next_poll_at"] <= datetime.now(UTC) + timedelta(hours=2, minutes=1)
    assert poll(engine, config, force=False).outcomes == []
    assert srv.count("/busy.rdf") == 1


# --------------------------------------------------------------------------- 7. one run at a time on SQLite
# (several pollers sharing a PostgreSQL database: tests/test_poller_leases.py)


def test_overlapping_runs_poll_each_source_once(sqlite_engine: Engine, srv: FeedServer) -> None:
    paths = ["/slow-a.rdf", "/slow-b.rdf", "/slow-c.rdf"]
    for n, path in enumerate(paths):
        body = hatena_rdf(path, [Entry(f"https://example.jp/{n}", f"記事{n}", ("t",), n)])
        srv.reply(path, Response(200, body, [("Content-Type", RDF)], delay=0.4))
    config = make_config([{"url": srv.url(p), "kind": "site"} for p in paths])

    async def both() -> list[RunReport]:
        first, second = Poller(sqlite_engine, config), Poller(sqlite_engine, config)
        return list(await asyncio.gather(first.run_once(), second.run_once()))

    reports = asyncio.run(both())
    polled = [r for r in reports if r.locked_by is None]
    locked = [r for r in reports if r.locked_by is not None]
    assert len(polled) == 1 and len(locked) == 1
    assert locked[0].outcomes == []
    assert "another poll is running" in locked[0].summary()
    assert {o.status for o in polled[0].outcomes} == {"new"} and len(polled[0].outcomes) == 3
    assert [srv.count(p) for p in paths] == [1, 1, 1]
    assert len(items(sqlite_engine)) == 3

    # The lock was released: the next run polls.
    assert poll(sqlite_engine, config).locked_by is None
    assert [srv.count(p) for p in paths] == [2, 2, 2]


def lock_row(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(locks.LOCK).where(locks.LOCK.c.name == LOCK_NAME)).mappings().one())


def test_overlapping_runs_in_two_threads(sqlite_engine: Engine, srv: FeedServer) -> None:
    srv.reply("/slow.rdf", Response(200, hatena_rdf("slow", [GO]), [("Content-Type", RDF)], delay=1.0))
    config = make_config([{"url": srv.url("/slow.rdf"), "kind": "site"}])
    results: list[RunReport] = []
    first = threading.Thread(target=lambda: results.append(poll(sqlite_engine, config)))
    first.start()
    assert srv.wait_for("/slow.rdf", 1, timeout=5)
    second = poll(sqlite_engine, config)
    first.join(timeout=10)
    assert second.locked_by is not None and second.outcomes == []
    assert results[0].locked_by is None and results[0].outcomes[0].status == "new"
    assert srv.count("/slow.rdf") == 1


def test_live_lock_blocks_and_expired_lease_is_taken_over(sqlite_engine: Engine, srv: FeedServer) -> None:
    srv.route("/f.rdf", hatena_rdf("f", [GO]), content_type=RDF)
    config = make_config([{"url": srv.url("/f.rdf"), "kind": "site"}])
    owner = "elsewhere.example:4242:deadbeef"
    taken = datetime.now(UTC)
    assert locks.acquire(sqlite_engine, LOCK_NAME, owner, 60.0, taken) is None

    blocked = poll(sqlite_engine, config, clock=lambda: taken + timedelta(seconds=59))
    assert blocked.locked_by is not None and blocked.locked_by.owner == owner
    assert srv.count("/f.rdf") == 0

    report = poll(sqlite_engine, config, clock=lambda: taken + timedelta(seconds=61))
    assert report.locked_by is None and [o.status for o in report.outcomes] == ["new"]
    assert srv.count("/f.rdf") == 1


def test_lock_of_a_dead_local_process_is_taken_over(sqlite_engine: Engine, srv: FeedServer) -> None:
    srv.route("/f.rdf", hatena_rdf("f", [GO]), content_type=RDF)
    config = make_config([{"url": srv.url("/f.rdf"), "kind": "site"}])
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    owner = f"{socket.gethostname()}:{child.pid}:0badf00d"
    assert is_dead_local_owner(owner)
    assert not is_dead_local_owner(f"{socket.gethostname()}:{os.getpid()}:0badf00d")
    assert locks.acquire(sqlite_engine, LOCK_NAME, owner, 3600, datetime.now(UTC)) is None

    report = poll(sqlite_engine, config)
    assert report.locked_by is None and [o.status for o in report.outcomes] == ["new"]
    with sqlite_engine.connect() as conn:
        lock = conn.execute(select(locks.LOCK).where(locks.LOCK.c.name == LOCK_NAME)).mappings().one()
    assert lock["owner"] is None  # released after the run


def test_lease_is_renewed_during_a_long_run(sqlite_engine: Engine, srv: FeedServer) -> None:
    # The run's clock jumps far past its lease while the feed is held open; the second run
    # reads the same clock, so only the first run's renewal (every ttl/3) keeps the lease.
    release = threading.Event()
    body = hatena_rdf("long", [GO])

    def held(_request: object) -> Response:
        release.wait(timeout=10)
        return Response(200, body, [("Content-Type", RDF)])

    srv.handle("/long.rdf", held)
    config = make_config([{"url": srv.url("/long.rdf"), "kind": "site"}])
    start = datetime.now(UTC)
    now = [start]
    results: list[RunReport] = []
    first = threading.Thread(
        target=lambda: results.append(poll(sqlite_engine, config, lease_ttl=0.3, clock=lambda: now[0]))
    )
    first.start()
    try:
        assert srv.wait_for("/long.rdf", 1, timeout=5)
        now[0] = start + timedelta(hours=1)  # a lease taken at start has long run out
        deadline = time.monotonic() + 5
        while lock_row(sqlite_engine)["expires_at"] < now[0] and time.monotonic() < deadline:
            time.sleep(0.01)  # waits for the renewal task to run, not for time to pass
        second = poll(sqlite_engine, config, lease_ttl=0.3, clock=lambda: now[0])
    finally:
        release.set()
        first.join(timeout=10)
    assert second.locked_by is not None and second.outcomes == []
    assert results[0].locked_by is None and [o.status for o in results[0].outcomes] == ["new"]
    assert srv.count("/long.rdf") == 1


# --------------------------------------------------------------------------- 8. the daemon loop


def test_run_loop_stops_cleanly_when_the_event_is_set(engine: Engine, srv: FeedServer) -> None:
    srv.route("/loop.rdf", hatena_rdf("loop", [GO, K8S]), content_type=RDF)
    config = make_config([{"url": srv.url("/loop.rdf"), "kind": "site"}])

    async def go() -> tuple[list[RunReport], float]:
        stop = asyncio.Event()
        poller = Poller(engine, config, on_outcome=lambda _o: stop.set())
        started = time.monotonic()
        reports = await asyncio.wait_for(poller.run_loop(stop, max_sleep=30), timeout=10)
        return reports, time.monotonic() - started

    reports, elapsed = asyncio.run(go())
    assert len(reports) == 1 and [o.status for o in reports[0].outcomes] == ["new"]
    assert elapsed < 5
    assert srv.count("/loop.rdf") == 1
    assert len(items(engine)) == 2
    with engine.connect() as conn:
        lock = conn.execute(select(locks.LOCK.c.owner).where(locks.LOCK.c.name == LOCK_NAME)).scalar()
        leased = conn.execute(select(SOURCE.c.id).where(SOURCE.c.lease_owner.is_not(None))).all()
    assert lock is None and leased == []  # the SQLite run lock and every source lease released


def test_run_loop_stops_while_sleeping(engine: Engine, srv: FeedServer) -> None:
    srv.route("/loop.rdf", hatena_rdf("loop", [GO]), content_type=RDF)
    config = make_config([{"url": srv.url("/loop.rdf"), "kind": "site"}])

    async def go() -> list[RunReport]:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(1.0, stop.set)
        return await asyncio.wait_for(Poller(engine, config).run_loop(stop, max_sleep=60), timeout=10)

    reports = asyncio.run(go())
    assert len(reports) == 1
    assert srv.count("/loop.rdf") == 1


def test_poll_loop_subprocess_exits_zero_on_sigterm(
    engine: Engine, db_url: str, srv: FeedServer, tmp_path: Path
) -> None:
    srv.route("/loop.rdf", hatena_rdf("loop", [GO]), content_type=RDF)
    url = srv.url("/loop.rdf")
    toml = write_toml(tmp_path / "feeds.toml", [{"url": url, "kind": "site"}])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator.cli", "--config", str(toml), "--db", db_url, "poll", "--loop"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        polled = False
        while time.monotonic() < deadline and proc.poll() is None:
            with engine.connect() as conn:
                row = conn.execute(select(SOURCE.c.last_polled_at).where(SOURCE.c.url == url)).first()
            if row is not None and row[0] is not None:
                polled = True
                break
            time.sleep(0.1)
        assert polled, proc.stderr.read() if proc.poll() is not None and proc.stderr else "no poll seen"
        assert len(items(engine)) == 1
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped after 1 passes" in out
    assert srv.count("/loop.rdf") == 1


# --------------------------------------------------------------------------- 9. due sources


def test_only_due_sources_are_polled_and_removed_sources_are_disabled(
    engine: Engine, srv: FeedServer
) -> None:
    srv.route("/a.rdf", hatena_rdf("a", [GO]), content_type=RDF)
    srv.route("/b.rdf", hatena_rdf("b", [K8S]), content_type=RDF)
    a, b = srv.url("/a.rdf"), srv.url("/b.rdf")
    config = make_config([{"url": a, "kind": "site"}, {"url": b, "kind": "tag", "tags": ["b-tag"]}])

    first = poll(engine, config, force=False)  # never polled: due
    assert sorted(o.url for o in first.outcomes) == sorted([a, b])
    assert poll(engine, config, force=False).outcomes == []
    assert (srv.count("/a.rdf"), srv.count("/b.rdf")) == (1, 1)

    forced = poll(engine, config, force=True)
    assert sorted(o.url for o in forced.outcomes) == sorted([a, b])
    assert (srv.count("/a.rdf"), srv.count("/b.rdf")) == (2, 2)

    # A source whose next poll time has come is due again.
    with engine.begin() as conn:
        conn.execute(
            SOURCE.update()
            .where(SOURCE.c.url == a)
            .values(next_poll_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert [o.url for o in poll(engine, config, force=False).outcomes] == [a]

    smaller = make_config([{"url": a, "kind": "site"}])
    report = poll(engine, smaller, force=True)
    assert [o.url for o in report.outcomes] == [a]
    assert srv.count("/b.rdf") == 2
    row = source_row(engine, b)
    assert row["enabled"] is False
    kept = items(engine, source=b)
    assert [i.link for i in kept] == [K8S.link]
    assert "b-tag" in kept[0].tag_names

    # Back in the configuration: enabled again.
    poll(engine, config, force=False)
    assert source_row(engine, b)["enabled"] is True


def test_run_deadline_leaves_slow_sources_for_the_next_run(engine: Engine, srv: FeedServer) -> None:
    srv.route("/fast.rdf", hatena_rdf("fast", [GO]), content_type=RDF)
    srv.raw("/stuck.rdf", stall(30))
    fast, stuck = srv.url("/fast.rdf"), srv.url("/stuck.rdf")
    config = make_config(
        [{"url": fast, "kind": "site"}, {"url": stuck, "kind": "site"}], run_deadline=1, total_timeout=20
    )
    started = time.monotonic()
    report = poll(engine, config, force=False)
    assert time.monotonic() - started < 5
    assert [o.url for o in report.outcomes] == [fast]
    row = source_row(engine, stuck)
    assert (row["last_polled_at"], row["next_poll_at"], row["consecutive_errors"]) == (None, None, 0)
    assert srv.count("/stuck.rdf") == 1
    again = poll(engine, config, force=False)  # the stuck source is still due, the fast one is not
    assert again.outcomes == []
    assert (srv.count("/fast.rdf"), srv.count("/stuck.rdf")) == (1, 2)


def test_private_addresses_need_permission(engine: Engine, srv: FeedServer) -> None:
    srv.route("/a.rdf", hatena_rdf("a", [GO]), content_type=RDF)
    srv.route("/b.rdf", hatena_rdf("b", [K8S]), content_type=RDF)
    a, b = srv.url("/a.rdf"), srv.url("/b.rdf")
    config = make_config(
        [{"url": a, "kind": "site"}, {"url": b, "kind": "site", "allow_private_networks": True}],
        allow_private_networks=False,
    )
    outcomes = by_url(poll(engine, config))
    assert (outcomes[a].status, outcomes[a].category) == ("error", "blocked")
    assert outcomes[b].status == "new"
    assert srv.count("/a.rdf") == 0
    assert [i.link for i in items(engine)] == [K8S.link]


def test_item_cap_per_feed(engine: Engine, srv: FeedServer) -> None:
    many = [Entry(f"https://example.jp/{n}", f"記事{n}", ("t",), n) for n in range(12)]
    srv.route("/many.rdf", hatena_rdf("many", many), content_type=RDF)
    config = make_config([{"url": srv.url("/many.rdf"), "kind": "site"}], max_items_per_feed=5)
    outcome = poll(engine, config).outcomes[0]
    assert (outcome.status, outcome.new) == ("new", 5)
    assert "truncated" in (outcome.message or "")
    assert {i.link for i in items(engine)} == {e.link for e in many[:5]}


def test_changed_source_tags_apply_even_when_the_feed_did_not_change(engine: Engine, srv: FeedServer) -> None:
    srv.conditional("/t.rdf", hatena_rdf("t", [GO, K8S]), etag='"same"')
    url = srv.url("/t.rdf")
    poll(engine, make_config([{"url": url, "kind": "tag", "tags": ["old-tag"]}]))
    assert {i.link for i in items(engine, tag="old-tag")} == {GO.link, K8S.link}

    outcome = poll(engine, make_config([{"url": url, "kind": "tag", "tags": ["新タグ"]}])).outcomes[0]
    assert outcome.status == "updated"
    assert {i.link for i in items(engine, tag="新タグ")} == {GO.link, K8S.link}
    assert items(engine, tag="old-tag") == []
    assert poll(engine, make_config([{"url": url, "kind": "tag", "tags": ["新タグ"]}])).outcomes[
        0
    ].status == ("not_modified")


# --------------------------------------------------------------------------- 10. Japanese text


def test_japanese_text_and_tags_round_trip_exactly(engine: Engine, srv: FeedServer) -> None:
    title = "日本語のタイトル：「ガ」と「ｶﾞ」〜 ①②・髙橋さんの𠮷野家🍣テスト"
    comment = "これは良い。ﾊﾝｶｸ・全角ＡＢＣ・〜～"
    assert unicodedata.is_normalized("NFC", title) and unicodedata.is_normalized("NFC", comment)
    link = "https://example.jp/記事/日本語?q=検索"
    tags = ("Ｋｕｂｅｒｎｅｔｅｓ", "機械学習", "ｺﾝﾃﾅ")
    srv.route(
        "/ja.rdf",
        hatena_rdf("日本語フィード", [Entry(link, title, tags, 7, "山田", comment)]),
        content_type=RDF,
    )
    srv.route(
        "/user.rdf",
        hatena_rdf("ユーザー", [Entry(link, title, ("あとで読む",), 7, "髙橋", comment)]),
        content_type=RDF,
    )
    config = make_config(
        [{"url": srv.url("/ja.rdf"), "kind": "site"}, {"url": srv.url("/user.rdf"), "kind": "user"}]
    )
    poll(engine, config)

    [item] = items(engine)
    assert item.title == title and item.title.encode() == title.encode()
    assert item.author == "山田"
    assert item.link == link
    assert comment in (item.summary or "")
    assert dict(zip(item.tag_names, item.tags, strict=True)) == {
        "kubernetes": "Ｋｕｂｅｒｎｅｔｅｓ",
        "機械学習": "機械学習",
        "コンテナ": "ｺﾝﾃﾅ",
        "あとで読む": "あとで読む",
    }
    user = next(s for s in item.sources if s.kind == "user")
    assert (user.user, user.comment) == ("髙橋", comment)
    assert [i.id for i in items(engine, tag="ｋｕｂｅｒｎｅｔｅｓ")] == [item.id]
    assert [i.id for i in items(engine, tag="コンテナ")] == [item.id]
    assert [i.id for i in items(engine, q="𠮷野家")] == [item.id]
    source = source_row(engine, srv.url("/ja.rdf"))
    assert source["feed_title"] == "日本語フィード"


# --------------------------------------------------------------------------- 11. permanent redirects


def test_permanent_redirect_moves_the_source_only_after_three_polls_in_a_row(
    engine: Engine, srv: FeedServer
) -> None:
    srv.route("/new.rdf", hatena_rdf("moved", [GO]), content_type=RDF)
    body = hatena_rdf("moved", [GO])
    moved = Response(301, headers=[("Location", "/new.rdf")])
    srv.sequence("/old.rdf", [moved, Response(200, body, [("Content-Type", RDF)]), moved])
    url = srv.url("/old.rdf")
    config = make_config([{"url": url, "kind": "site"}])

    # 301, then a 200 from the old URL: the streak is broken.
    poll(engine, config)
    row = source_row(engine, url)
    assert (row["redirect_url"], row["redirect_count"]) == (srv.url("/new.rdf"), 1)
    poll(engine, config)
    assert source_row(engine, url)["redirect_count"] == 0
    assert (srv.count("/old.rdf"), srv.count("/new.rdf")) == (2, 1)

    # Three 301s in a row: the fourth poll goes straight to the new URL.
    for n in (1, 2, 3):
        poll(engine, config)
        assert source_row(engine, url)["redirect_count"] == n
    assert srv.count("/old.rdf") == 5
    poll(engine, config)
    poll(engine, config)
    assert srv.count("/old.rdf") == 5
    assert srv.count("/new.rdf") == 6
    assert [r.target for r in srv.requests][-2:] == ["/new.rdf", "/new.rdf"]
    row = source_row(engine, url)
    assert row["url"] == url and row["last_status"] == "unchanged"
    assert len(items(engine)) == 1


def test_temporary_redirect_never_moves_the_source(engine: Engine, srv: FeedServer) -> None:
    srv.route("/dest.rdf", hatena_rdf("dest", [GO]), content_type=RDF)
    srv.redirect("/tmp.rdf", "/dest.rdf", status=302)
    srv.sequence("/mixed.rdf", [Response(301, headers=[("Location", "/tmp.rdf")])])
    config = make_config(
        [{"url": srv.url("/tmp.rdf"), "kind": "site"}, {"url": srv.url("/mixed.rdf"), "kind": "tag"}]
    )
    for _ in range(5):
        poll(engine, config)
    assert srv.count("/tmp.rdf") == 10  # five direct polls, five via the 301 -> 302 chain
    assert srv.count("/mixed.rdf") == 5
    for path in ("/tmp.rdf", "/mixed.rdf"):
        row = source_row(engine, srv.url(path))
        assert (row["redirect_url"], row["redirect_count"]) == (None, 0)


# --------------------------------------------------------------------------- 12. OPML


def test_opml_import_and_export(
    engine: Engine, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>購読リスト</title></head>
  <body>
    <outline text="技術" title="技術">
      <outline type="rss" text="deeeet" title="deeeet" xmlUrl="https://deeeet.com/index.xml"
               htmlUrl="https://deeeet.com/"/>
      <outline type="rss" text="Go ブログ" title="Go ブログ" xmlUrl="https://go.dev/blog/feed.atom"
               category="golang"/>
    </outline>
    <outline type="rss" text="はてなブックマーク - 人気エントリー"
             xmlUrl="https://b.hatena.ne.jp/hotentry.rss"/>
    <outline text="no feed here" htmlUrl="https://example.org/"/>
  </body>
</opml>
""",
        encoding="utf-8",
    )
    assert cli.main(["--db", db_url, "import-opml", str(opml)]) == 0
    assert "3 subscriptions" in capsys.readouterr().out
    assert cli.main(["--db", db_url, "import-opml", str(opml)]) == 0
    assert "0 added, 3 known" in capsys.readouterr().out

    assert cli.main(["--db", db_url, "export-opml"]) == 0
    root = ET.fromstring(capsys.readouterr().out.encode("utf-8"))
    assert root.tag == "opml"
    outlines = {o.get("xmlUrl"): o for o in root.iter("outline")}
    assert {url: o.get("title") for url, o in outlines.items()} == {
        "https://deeeet.com/index.xml": "deeeet",
        "https://go.dev/blog/feed.atom": "Go ブログ",
        "https://b.hatena.ne.jp/hotentry.rss": "はてなブックマーク - 人気エントリー",
    }
    assert set(outlines["https://go.dev/blog/feed.atom"].get("category", "").split(",")) == {"技術", "golang"}

    out_file = tmp_path / "export.opml"
    assert cli.main(["--db", db_url, "export-opml", "-o", str(out_file)]) == 0
    exported = ET.parse(out_file).getroot()
    assert {o.get("xmlUrl") for o in exported.iter("outline")} == set(outlines)
    with engine.connect() as conn:
        origins = set(conn.execute(select(SOURCE.c.origin)).scalars())
    assert origins == {"opml"}


def test_opml_round_trip_keeps_kinds_and_tags(
    engine: Engine, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = [
        {"url": "https://b.hatena.ne.jp/site/deeeet.com/?mode=rss", "kind": "site", "title": "deeeet"},
        {
            "url": "https://b.hatena.ne.jp/q/kubernetes?mode=rss",
            "kind": "tag",
            "tags": ["Kubernetes", "インフラ"],
        },
        {"url": "https://b.hatena.ne.jp/umiyosh/bookmark.rss", "kind": "user", "title": "umiyosh"},
        {"url": "https://deeeet.com/index.xml", "kind": "feed", "title": "deeeet blog"},
    ]
    with engine.begin() as conn:
        sync_sources(conn, make_config(sources).sources, datetime.now(UTC))
    exported = tmp_path / "out.opml"
    assert cli.main(["--db", db_url, "export-opml", "-o", str(exported)]) == 0

    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert cli.main(["--db", other, "import-opml", str(exported)]) == 0
    assert "4 added" in capsys.readouterr().out
    copy = make_engine(other)
    try:
        with copy.connect() as conn:
            rows = {r["url"]: r for r in conn.execute(select(SOURCE)).mappings()}
    finally:
        copy.dispose()
    assert {u: r["kind"] for u, r in rows.items()} == {s["url"]: s["kind"] for s in sources}
    assert rows[sources[1]["url"]]["tags"] == ["Kubernetes", "インフラ"]
    assert rows[sources[0]["url"]]["title"] == "deeeet"
