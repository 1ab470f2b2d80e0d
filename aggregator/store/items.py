"""Write one source's items inside the caller's transaction: load → decide → apply.

``store.keys.load_batch`` reads, once, every stored item the entries may belong to and
this source's sightings of them; ``keys.assign_keys`` places each entry on its item and
``ingest.plan_writes`` decides rows and sightings from that same snapshot (pure);
``load_tags`` reads the other sources' tags of the items whose tag set may move,
``ingest.plan_tags`` completes the plan and ``apply_plan`` writes it with bulk statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection

from .. import ingest
from ..ingest import SightingRow, TagSet, TagsStored, WriteCounts, WritePlan
from ..keys import assign_keys, known_from, lookup_hashes
from ..models import Item, ItemTag, Sighting, Source, Tag, table_of
from .common import bump_data_version, chunks, insert_for, wrap_storage_errors
from .history import record_points
from .keys import SIGHTING_COLUMNS, load_batch

ITEM = table_of(Item)
SIGHTING = table_of(Sighting)
TAG = table_of(Tag)
SOURCE = table_of(Source)
ITEM_TAG = table_of(ItemTag)

__all__ = ["WriteCounts", "apply_plan", "load_tags", "rederive_tags", "write_items"]


@wrap_storage_errors()
def write_items(
    conn: Connection, source: ingest.SourceInfo, incoming: Sequence[ingest.Incoming], now: datetime
) -> WriteCounts:
    """Insert new items, update changed ones, record the source's sightings and re-derive tags."""
    if not incoming:
        return WriteCounts()
    lookup = lookup_hashes(incoming)
    stored = load_batch(conn, source.id, lookup)
    placed = assign_keys(incoming, known_from(stored, lookup))
    plan = ingest.plan_writes(source, placed, stored, now)
    plan = ingest.plan_tags(plan, source, load_tags(conn, plan.retag_ids()))
    apply_plan(conn, plan, stored, now)
    return plan.counts


@wrap_storage_errors()
def load_tags(conn: Connection, item_ids: Sequence[int]) -> TagsStored:
    """Every source's tags for these items (and which sources are private), and their current tag links."""
    said: dict[int, list[tuple[int, tuple[tuple[str, str], ...]]]] = {}
    links: dict[int, dict[str, datetime]] = {}
    hidden: dict[int, set[str]] = {}
    private: set[int] = set()
    for part in chunks(item_ids):
        for item_id, source_id, tags, is_private in conn.execute(
            select(SIGHTING.c.item_id, SIGHTING.c.source_id, SIGHTING.c.tags, SOURCE.c.private)
            .join(SOURCE, SOURCE.c.id == SIGHTING.c.source_id, isouter=True)
            .where(SIGHTING.c.item_id.in_(part))
        ):
            said.setdefault(item_id, []).append((source_id, _pairs(tags)))
            if is_private:
                private.add(int(source_id))
        for item_id, name, when, public in conn.execute(
            select(ITEM_TAG.c.item_id, TAG.c.name, ITEM_TAG.c.published, ITEM_TAG.c.public)
            .join(TAG, TAG.c.id == ITEM_TAG.c.tag_id)
            .where(ITEM_TAG.c.item_id.in_(part))
        ):
            links.setdefault(item_id, {})[name] = when
            if not public:
                hidden.setdefault(item_id, set()).add(name)
    return TagsStored(
        said=said,
        links=links,
        private_sources=frozenset(private),
        private_links={i: frozenset(names) for i, names in hidden.items()},
    )


def _pairs(tags: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(name), str(display)) for name, display in tags or [])


@wrap_storage_errors()
def apply_plan(conn: Connection, plan: WritePlan, stored: ingest.Stored, now: datetime) -> None:
    """Write ``plan`` with bulk statements."""
    ids = {key_hash: int(row.id) for key_hash, row in stored.items.items() if row.id is not None}
    ids.update(_insert_new(conn, [row.values() for row in plan.new_items]))
    _update_changed(conn, [row.values() for row in plan.updated_items])
    sightings = [(ids[key_hash], row) for key_hash, row in plan.sightings if key_hash in ids]
    _upsert_sightings(conn, sightings)
    record_points(conn, _moved_counts(sightings, stored), now)
    _write_tag_sets(conn, [(ids[t.key_hash], t) for t in plan.tag_sets if t.key_hash in ids])
    bumped = sorted(ids[key_hash] for key_hash in plan.bumps if key_hash in ids)
    for part in chunks(bumped):
        conn.execute(
            update(ITEM).where(ITEM.c.id.in_(part)).values(version=ITEM.c.version + 1, last_seen=now)
        )
    if plan.counts.changed:
        bump_data_version(conn)


def _moved_counts(
    sightings: list[tuple[int, SightingRow]], stored: ingest.Stored
) -> list[tuple[int, int, int]]:
    """(item, source, count) where the source reports a count and it is not the one it reported before."""
    moved = []
    for item_id, row in sightings:
        before = stored.mine.get(item_id)
        if row.bookmark_count is not None and (before is None or before.bookmark_count != row.bookmark_count):
            moved.append((item_id, row.source_id, row.bookmark_count))
    return moved


def _insert_new(conn: Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert new items (a concurrent writer's row for the same key wins) and return key_hash -> id."""
    ids: dict[str, int] = {}
    for part in chunks(rows):
        stmt = insert_for(conn, ITEM).on_conflict_do_nothing(index_elements=["key_hash"])
        conn.execute(stmt, list(part))
        hashes = [r["key_hash"] for r in part]
        for key_hash, item_id in conn.execute(
            select(ITEM.c.key_hash, ITEM.c.id).where(ITEM.c.key_hash.in_(hashes))
        ):
            ids[key_hash] = int(item_id)
    return ids


def _update_changed(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = [k for k in rows[0] if k != "id"]
    stmt = update(ITEM).where(ITEM.c.id == bindparam("_id")).values({c: bindparam(f"_{c}") for c in columns})
    conn.execute(stmt, [{f"_{k}": v for k, v in row.items()} for row in rows])


def _upsert_sightings(conn: Connection, rows: list[tuple[int, SightingRow]]) -> None:
    values = [
        {
            "item_id": item_id,
            **{c.name: getattr(row, c.name) for c in SIGHTING_COLUMNS},
            "tags": [list(pair) for pair in row.tags],
        }
        for item_id, row in rows
    ]
    kept = ("first_seen", "source_id")
    for batch in chunks(values):
        stmt = insert_for(conn, SIGHTING)
        stmt = stmt.on_conflict_do_update(
            index_elements=["item_id", "source_id"],
            set_={c.name: stmt.excluded[c.name] for c in SIGHTING_COLUMNS if c.name not in kept},
        )
        conn.execute(stmt, list(batch))


def _write_tag_sets(conn: Connection, sets: list[tuple[int, TagSet]]) -> None:
    """Replace each item's tag links with its whole tag set."""
    if not sets:
        return
    tag_ids = _ensure_tags(conn, {name: display for _, t in sets for name, display in t.tags})
    for part in chunks(sorted(item_id for item_id, _ in sets)):
        conn.execute(delete(ITEM_TAG).where(ITEM_TAG.c.item_id.in_(part)))
    links = [
        {
            "item_id": item_id,
            "tag_id": tag_ids[name],
            "published": t.published,
            "public": name not in t.private,
        }
        for item_id, t in sets
        for name, _ in t.tags
    ]
    for batch in chunks(links):
        conn.execute(insert_for(conn, ITEM_TAG).on_conflict_do_nothing(), list(batch))


def _ensure_tags(conn: Connection, names: dict[str, str]) -> dict[str, int]:
    """Tag ids by name, creating the missing tags (the first display form seen is kept)."""
    if not names:
        return {}
    rows = [{"name": n, "display": d} for n, d in sorted(names.items())]
    for batch in chunks(rows):
        conn.execute(insert_for(conn, TAG).on_conflict_do_nothing(index_elements=["name"]), list(batch))
    ids: dict[str, int] = {}
    for part in chunks(sorted(names)):
        for tag_id, name in conn.execute(select(TAG.c.id, TAG.c.name).where(TAG.c.name.in_(part))):
            ids[name] = int(tag_id)
    return ids


@wrap_storage_errors()
def rederive_tags(conn: Connection, item_ids: Iterable[int]) -> None:
    """Make each item's tags the union of its sightings' tags (after sightings moved between items,
    or a source became private or public)."""
    wanted = sorted(set(item_ids))
    stored = load_tags(conn, wanted)
    published: dict[int, datetime] = {}
    for part in chunks(wanted):
        published.update(conn.execute(select(ITEM.c.id, ITEM.c.published).where(ITEM.c.id.in_(part))).all())
    sets = [
        (i, ingest.tag_set("", published[i], stored.said.get(i, ()), stored.private_sources))
        for i in wanted
        if i in published
    ]
    _write_tag_sets(conn, sets)
