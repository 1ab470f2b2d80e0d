"""``store.provenance`` on both databases: an item's sightings, its fields' origins and its
bookmark history, over the polled sample feeds.

What each source said of an article is read from the sample files with feedparser (or json)
and the rules the design notes state (a source's rank: the publisher's own feed, then a
per-site, a per-tag, a user's bookmark feed), never through the code under test.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import feedparser
import pytest
from conftest import fresh_pg_schema
from feedserver import FeedServer
from sqlalchemy import delete, insert
from sqlalchemy.engine import Engine
from test_api import DEMO_CONFIG, SAMPLES, poll, sample_config, serve_samples
from test_pages import article_key, demo_aliases, fold_tag

from aggregator.config import Config
from aggregator.db import make_engine
from aggregator.filters import Filter
from aggregator.ingest.merge import TEXT_FIELDS
from aggregator.models import BookmarkPoint, table_of
from aggregator.store.provenance import MAX_ITEM_ID, field_origins, item_provenance
from aggregator.store.slices import select_slice
from aggregator.views import Provenance

POINT = table_of(BookmarkPoint)
RANKS = {"feed": 4, "site": 3, "tag": 2, "user": 1}  # the design notes' order of text ownership
T0 = datetime(2024, 8, 1, 9, 0, tzinfo=UTC)


# -- what the sample files say -------------------------------------------------------------------


@dataclass(frozen=True)
class Said:
    """What one sample file says of one article."""

    source: str  # the sample file's name
    kind: str
    rank: int
    title: str
    tags: frozenset[str]  # folded names: the entry's own and the source's configured tags
    user: str | None
    comment: str | None
    count: int | None
    date: datetime | None


def _when(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime(*parsed[:6], tzinfo=UTC) if parsed else None


def _same_site(host: str, home: str) -> bool:
    a, b = host.removeprefix("www."), home.removeprefix("www.")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def sample_sightings() -> dict[str, list[Said]]:
    """Article key -> what each sample source said of it, in the configuration's order."""
    demo = tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))
    aliases = demo_aliases()
    found: dict[str, list[Said]] = {}
    for source in demo["sources"]:
        path = SAMPLES / source["url"].rsplit("/", 1)[-1]
        if path.name == "broken.xml":
            continue
        kind, own_tags = source["kind"], source.get("tags", [])
        # (link, title, the entry's tags, bookmark count, author, description, date)
        entries: list[tuple[str, str, list[str], int | None, str | None, str | None, datetime | None]] = []
        if path.suffix == ".json":
            doc = json.loads(path.read_bytes())
            home = urlsplit(doc["home_page_url"]).hostname or ""
            for item in doc["items"]:
                date = datetime.fromisoformat(item["date_published"]).astimezone(UTC)
                entries.append((item["url"], item["title"], item.get("tags", []), None, None, None, date))
        else:
            parsed = feedparser.parse(path.read_bytes())
            home = urlsplit(parsed.feed.get("link", "")).hostname or ""
            for e in parsed.entries:
                count = e.get("hatena_bookmarkcount")
                terms = [t.term for t in e.get("tags", [])]
                description = e.get("summary", "").strip() or None
                entries.append(
                    (
                        e.link,
                        e.title,
                        terms,
                        int(count) if count else None,
                        e.get("author"),
                        description,
                        _when(e),
                    )
                )
        for link, title, terms, count, author, description, date in entries:
            rank = RANKS[kind]
            if kind == "feed" and not _same_site(urlsplit(link).hostname or "", home):
                rank = RANKS["user"]  # a plain feed speaks as the publisher only for its own site
            user = kind == "user"  # a bookmark feed's author is the user, its description the comment
            said = Said(
                source=path.name,
                kind=kind,
                rank=rank,
                title=title,
                tags=frozenset(fold_tag(t, aliases) for t in [*terms, *own_tags]),
                user=author if user else None,
                comment=description if user else None,
                count=count,
                date=date,
            )
            found.setdefault(article_key(link), []).append(said)
    return found


def widely_seen(minimum: int = 3) -> dict[str, list[Said]]:
    """The articles that at least ``minimum`` sample sources carry."""
    return {key: said for key, said in sample_sightings().items() if len(said) >= minimum}


# -- the samples polled into each database -------------------------------------------------------


@dataclass
class Polled:
    engine: Engine
    config: Config
    source_ids: dict[str, int]  # sample file name -> source id
    item_ids: dict[str, int]  # article key -> item id

    @property
    def titles(self) -> dict[str, str]:
        """Sample file name -> the source's configured title."""
        return {s.url.rsplit("/", 1)[-1]: s.title for s in self.config.sources}

    def provenance(self, key: str) -> Provenance:
        with self.engine.connect() as conn:
            found = item_provenance(conn, self.item_ids[key])
        assert found is not None
        return found


def polled_on(engine: Engine) -> tuple[Config, dict[str, int], dict[str, int]]:
    """Poll the sample feeds (and the extra ones) into ``engine``: the configuration, source and item ids."""
    with FeedServer() as srv:
        serve_samples(srv)
        config = sample_config(srv.base_url)
        poll(engine, config)
    with engine.connect() as conn:
        items = select_slice(conn, Filter(limit=500))
        rows = conn.exec_driver_sql("SELECT id, url FROM source").all()
    sources = {url.rsplit("/", 1)[-1]: int(ident) for ident, url in rows}
    return config, sources, {article_key(i.link): i.id for i in items if i.link}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def polled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Polled]:
    """The samples polled once per database, on a real SQLite file and on the real PostgreSQL."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('provenance') / 'samples.db'}"
        else:
            url = stack.enter_context(fresh_pg_schema())
        engine = make_engine(url)
        stack.callback(engine.dispose)
        yield Polled(engine, *polled_on(engine))


def test_the_samples_have_items_seen_through_several_sources() -> None:
    seen = widely_seen()
    assert len(seen) >= 5
    assert max(len(said) for said in seen.values()) >= 4
    assert any(s.kind == "user" for said in seen.values() for s in said)


@pytest.mark.parametrize("key", sorted(widely_seen()))
def test_every_source_that_carried_an_item_and_what_it_said(polled: Polled, key: str) -> None:
    expected = {s.source: s for s in widely_seen()[key]}
    prov = polled.provenance(key)
    by_file = {s.source.url.rsplit("/", 1)[-1]: s for s in prov.sightings}
    assert set(by_file) == set(expected)
    for name, sighted in by_file.items():
        said = expected[name]
        assert sighted.source.id == polled.source_ids[name]
        assert sighted.source.kind == said.kind
        assert sighted.source.title == polled.titles[name]
        assert {polled.config.normalize(t) for t in sighted.tags} == said.tags
        assert set(sighted.tag_names) == said.tags
        assert (sighted.source.user, sighted.source.comment) == (said.user, said.comment)
        assert sighted.bookmark_count == said.count
        assert sighted.said_at == said.date
        assert sighted.first_seen <= sighted.last_seen
    assert [s.first_seen for s in prov.sightings] == sorted(s.first_seen for s in prov.sightings)


@pytest.mark.parametrize("key", sorted(widely_seen()))
def test_the_owner_is_the_highest_ranked_source_and_gives_the_text(polled: Polled, key: str) -> None:
    said = widely_seen()[key]
    top = max(s.rank for s in said)
    prov = polled.provenance(key)
    owners = [s for s in prov.sightings if s.owner]
    assert len(owners) == 1 and prov.owner_source_id == owners[0].source.id
    owner = {s.source: s for s in said}[owners[0].source.url.rsplit("/", 1)[-1]]
    assert owner.rank == top  # two sources of the same rank: the first to bring it keeps it
    assert prov.item.title == owner.title
    assert prov.item.published == owner.date
    origins = {f.field: f for f in prov.fields}
    assert list(origins) == [*TEXT_FIELDS, "published", "updated", "site", "tags", "bookmark_count"]
    for name in TEXT_FIELDS:
        assert (origins[name].rule, origins[name].sources) == ("owner", (prov.owner_source_id,))
    dated = {polled.source_ids[s.source] for s in said if s.date == owner.date}
    assert origins["published"].rule == "owner" and set(origins["published"].sources) == dated
    assert origins["site"].sources == (prov.owner_source_id,)


@pytest.mark.parametrize("key", sorted(widely_seen()))
def test_tags_and_count_are_merged_from_every_source(polled: Polled, key: str) -> None:
    said = widely_seen()[key]
    prov = polled.provenance(key)
    assert set(prov.item.tag_names) == set().union(*(s.tags for s in said))
    best = max(s.count for s in said if s.count is not None)
    assert prov.item.bookmark_count == best
    origins = {f.field: f for f in prov.fields}
    assert origins["tags"].rule == origins["bookmark_count"].rule == "all_sources"
    assert set(origins["tags"].sources) == {polled.source_ids[s.source] for s in said if s.tags}
    assert set(origins["bookmark_count"].sources) == {
        polled.source_ids[s.source] for s in said if s.count == best
    }


def insert_points(engine: Engine, rows: list[tuple[int, int, datetime, int]]) -> None:
    """Bookmark points as the poller would record them: (item, source, at, count), in place of
    the ones the samples' poll recorded for those items."""
    with engine.begin() as conn:
        conn.execute(delete(POINT).where(POINT.c.item_id.in_({i for i, *_ in rows})))
        conn.execute(
            insert(POINT), [{"item_id": i, "source_id": s, "at": at, "count": n} for i, s, at, n in rows]
        )


def test_bookmark_history_oldest_first_with_its_sources(polled: Polled) -> None:
    key = "https://deeeet.com/writing/2018/01/15/kubernetes-gpu/"
    other = "https://deeeet.com/writing/2019/05/20/why-microservices/"
    item, site, tag = (
        polled.item_ids[key],
        polled.source_ids["hatena-site-deeeet.com.rdf"],
        polled.source_ids["hatena-tag-kubernetes.rdf"],
    )
    insert_points(
        polled.engine,
        [
            (item, tag, T0 + timedelta(hours=2), 165),
            (item, site, T0, 160),
            (polled.item_ids[other], site, T0 + timedelta(minutes=5), 800),
            (item, site, T0 + timedelta(hours=1), 163),
        ],
    )
    history = polled.provenance(key).history
    titles = polled.titles
    assert [(p.at, p.count, p.source_id, p.source_title) for p in history] == [
        (T0, 160, site, titles["hatena-site-deeeet.com.rdf"]),
        (T0 + timedelta(hours=1), 163, site, titles["hatena-site-deeeet.com.rdf"]),
        (T0 + timedelta(hours=2), 165, tag, titles["hatena-tag-kubernetes.rdf"]),
    ]
    assert [p.count for p in polled.provenance(other).history] == [800]


@pytest.mark.parametrize("ident", [0, -1, MAX_ITEM_ID, MAX_ITEM_ID + 1, 10**30])
def test_no_such_item_is_none(polled: Polled, ident: int) -> None:
    with polled.engine.connect() as conn:
        assert item_provenance(conn, ident) is None


# -- field origins, row by row -------------------------------------------------------------------


def _sighted(prov: Provenance, **changes: Any) -> Any:
    return replace(prov.sightings[0], **changes)


def test_an_item_no_source_dated_is_dated_when_first_seen(polled: Polled) -> None:
    prov = polled.provenance(sorted(widely_seen())[0])
    undated = [_sighted(prov, said_at=None, owner=True)]
    row = {
        "owner_source_id": undated[0].source.id,
        "has_date": False,
        "published": T0,
        "bookmark_count": None,
    }
    origins = {f.field: f for f in field_origins(row, undated)}
    assert (origins["published"].rule, origins["published"].sources) == ("first_seen", ())
    assert origins["bookmark_count"].sources == ()
    assert origins["tags"].sources == ((undated[0].source.id,) if undated[0].tags else ())


def test_a_date_given_by_a_lower_source_names_that_source(polled: Polled) -> None:
    prov = polled.provenance(sorted(widely_seen())[0])
    owner, other = (
        _sighted(prov, said_at=None, owner=True),
        replace(prov.sightings[1], said_at=T0, owner=False),
    )
    row = {"owner_source_id": owner.source.id, "has_date": True, "published": T0, "bookmark_count": None}
    origins = {f.field: f for f in field_origins(row, [owner, other])}
    assert origins["published"].sources == (other.source.id,)
    assert origins["title"].sources == (owner.source.id,)
