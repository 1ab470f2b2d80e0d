"""A database made by the earlier release (fragments dropped from keys, Unicode hosts, no entry
identities on sightings, made before migrations) is brought under today's rules by ``aggregator db
upgrade`` without losing or duplicating items."""

from __future__ import annotations

from datetime import UTC, datetime

from oldschema import drop_later_schema
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Engine
from test_store_keys import DIARY, E, Feed, groups, poll

from aggregator.db import make_engine
from aggregator.filters import Filter
from aggregator.identity import hash_text
from aggregator.migrations.run import upgrade
from aggregator.models import (
    ITEM_BOOKMARKS_INDEX,
    ITEM_SITE_INDEX,
    Item,
    ItemTag,
    Sighting,
    Source,
    Tag,
    table_of,
)
from aggregator.store.slices import select_slice

ITEM, SIGHTING, SOURCE = table_of(Item), table_of(Sighting), table_of(Source)
TAG, ITEM_TAG = table_of(Tag), table_of(ItemTag)
THEN = datetime(2023, 1, 1, tzinfo=UTC)
DIARY_FEED = Feed(
    "diary",
    "feed",
    "http://d.hatena.ne.jp/sample/",
    (E("day", DIARY), E("p1", DIARY + "#p1"), E("p2", DIARY + "#p2")),
)


def old_item(
    conn: object, key: str, site: str, source_id: int, guid: str | None, tag: str | None = None
) -> int:
    assert hasattr(conn, "execute")
    row = {
        "key_hash": hash_text(key), "key": key, "link": key, "title": key, "published": THEN,
        "has_date": True, "updated": THEN, "first_seen": THEN, "last_seen": THEN, "site": site,
        "enclosures": [], "owner_source_id": source_id, "owner_rank": 4, "version": 1,
    }  # fmt: skip
    item_id = int(conn.execute(ITEM.insert().values(**row)).inserted_primary_key[0])
    tags = [[tag, tag]] if tag else []
    conn.execute(
        SIGHTING.insert().values(
            item_id=item_id, source_id=source_id, guid=guid, tags=tags, first_seen=THEN, last_seen=THEN
        )
    )
    if tag:
        tag_id = conn.execute(TAG.insert().values(name=tag, display=tag)).inserted_primary_key[0]
        conn.execute(ITEM_TAG.insert().values(tag_id=tag_id, item_id=item_id, published=THEN))
    return item_id


def make_old(url: str) -> dict[str, int]:
    engine = make_engine(url)
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        for name in ("diary", "a", "b", "nog"):
            ids[name] = int(
                conn.execute(
                    SOURCE.insert().values(url=f"https://feeds.example/{name}", kind="feed", tags=[])
                ).inserted_primary_key[0]
            )
        # the earlier rule merged the diary's three entries into the page; the first one's guid was kept
        ids["item:diary"] = old_item(
            conn, "https://d.hatena.ne.jp/sample/20040820", "d.hatena.ne.jp", ids["diary"], "day"
        )
        ids["item:unicode"] = old_item(conn, "https://例え.jp/post", "例え.jp", ids["a"], "a", tag="idn")
        ids["item:puny"] = old_item(conn, "https://xn--r8jz45g.jp/post", "xn--r8jz45g.jp", ids["b"], "b")
        ids["item:nog"] = old_item(conn, "https://links.example/x", "links.example", ids["nog"], None)
        conn.execute(text("DROP INDEX ix_sighting_source_entry"))
        conn.execute(text("DROP INDEX ix_item_page"))
        conn.execute(text("ALTER TABLE item DROP COLUMN page_hash"))
        conn.execute(text("ALTER TABLE sighting DROP COLUMN entry_hash"))
        conn.execute(text("DELETE FROM meta WHERE key = 'identity_rule'"))
        # before site keys: (site, published) and (bookmark_count) indexes, no site_key column
        conn.execute(text(f"DROP INDEX {ITEM_SITE_INDEX}"))
        conn.execute(text(f"DROP INDEX {ITEM_BOOKMARKS_INDEX}"))
        conn.execute(text("ALTER TABLE item DROP COLUMN site_key"))
        conn.execute(text("CREATE INDEX ix_item_site_published ON item (site, published)"))
        conn.execute(text("CREATE INDEX ix_item_bookmark_count ON item (bookmark_count)"))
        conn.execute(text("DELETE FROM meta WHERE key = 'site_key_rule'"))
        drop_later_schema(conn)  # the tables and columns of later revisions: no release before them had them
        conn.execute(text("DROP TABLE alembic_version"))
    engine.dispose()
    return ids


def upgraded(url: str) -> Engine:
    """``aggregator db upgrade`` on ``url``, then the engine every command opens."""
    bare = make_engine(url, create=False)
    upgrade(bare)
    bare.dispose()
    return make_engine(url)


def test_an_older_database_is_upgraded_then_polled_without_loss_or_duplicates(db_url: str) -> None:
    ids = make_old(db_url)
    engine = upgraded(db_url)
    try:
        with engine.connect() as conn:
            items = dict(conn.execute(select(ITEM.c.id, ITEM.c.key)).all())
            sites = set(conn.execute(select(ITEM.c.site)).scalars())
            puny_tags = set(
                conn.execute(
                    select(TAG.c.name)
                    .join(ITEM_TAG, ITEM_TAG.c.tag_id == TAG.c.id)
                    .where(ITEM_TAG.c.item_id == ids["item:puny"])
                ).scalars()
            )
        # the two spellings of one host were one article: merged, with both sources and the tag
        assert ids["item:unicode"] not in items
        assert items[ids["item:puny"]] == "https://xn--r8jz45g.jp/post"
        assert sites == {"d.hatena.ne.jp", "xn--r8jz45g.jp", "links.example"}
        assert puny_tags == {"idn"}
        source_ids = {k: v for k, v in ids.items() if not k.startswith("item:")}
        assert groups(engine, source_ids) == {
            frozenset({"diary/day"}),
            frozenset({"a/a", "b/b"}),
            frozenset({"nog/None"}),
        }

        poll(engine, DIARY_FEED, source_ids)
        poll(engine, Feed("nog", "feed", None, (E("x", "https://links.example/x", guid=False),)), source_ids)
        # a bookmark of a section of an old item's page finds it through the page filled in by the upgrade
        poll(engine, Feed("a", "feed", None, (E("sec", "https://links.example/x#section"),)), source_ids)
        with engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(ITEM)).scalar()
            day_item = conn.execute(
                select(SIGHTING.c.item_id).where(
                    SIGHTING.c.source_id == ids["diary"], SIGHTING.c.guid == "day"
                )
            ).scalar()
        # the page's item stays the "day" entry's; #p1 and #p2 are new; the guid-less entry adopts its item
        assert day_item == ids["item:diary"]
        assert count == 5
        assert groups(engine, source_ids) == {
            frozenset({"diary/day"}), frozenset({"diary/p1"}), frozenset({"diary/p2"}),
            frozenset({"a/a", "b/b"}), frozenset({"nog/None", "a/sec"}),
        }  # fmt: skip
    finally:
        engine.dispose()


def test_an_older_database_gets_site_keys_and_the_slice_indexes(db_url: str) -> None:
    make_old(db_url)
    engine = upgraded(db_url)
    try:
        with engine.connect() as conn:
            keys = dict(conn.execute(select(ITEM.c.site, ITEM.c.site_key)).all())
            on_hatena = [v.site for v in select_slice(conn, Filter(sites=("hatena.ne.jp",)))]
            on_idn = [v.site for v in select_slice(conn, Filter(sites=("xn--r8jz45g.jp",)))]
        indexes = {i["name"] for i in inspect(engine).get_indexes("item")}
        assert keys == {
            "d.hatena.ne.jp": "jp.ne.hatena.d.",
            "xn--r8jz45g.jp": "jp.xn--r8jz45g.",  # re-keyed from 例え.jp first
            "links.example": "example.links.",
        }
        assert on_hatena == ["d.hatena.ne.jp"] and on_idn == ["xn--r8jz45g.jp"]
        assert {ITEM_SITE_INDEX, ITEM_BOOKMARKS_INDEX} <= indexes
        assert not indexes & {"ix_item_site_published", "ix_item_bookmark_count"}
    finally:
        engine.dispose()
