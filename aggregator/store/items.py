"""Write one source's items: bulk upserts of items, sightings and tags, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection

from ..ingest import Existing, Incoming, SourceInfo, merge_item, union_tags
from ..models import Item, ItemTag, Sighting, Tag, table_of
from .common import bump_data_version, chunks, insert_for
from .keys import place_entries

ITEM = table_of(Item)
SIGHTING = table_of(Sighting)
TAG = table_of(Tag)
ITEM_TAG = table_of(ItemTag)
SIGHTING_VISIBLE = ("tags", "user", "comment", "said_at")  # a source's bookmark count alone shows nowhere
_EXISTING_COLUMNS = [c for c in ITEM.c if c.name not in ("key", "site", "last_seen")]


@dataclass(frozen=True)
class WriteCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated)


def write_items(
    conn: Connection, source: SourceInfo, incoming: Sequence[Incoming], now: datetime
) -> WriteCounts:
    """Insert new items, update changed ones, record the source's sightings and re-derive tags."""
    if not incoming:
        return WriteCounts()
    incoming = place_entries(conn, source.id, incoming)
    existing = _load_existing(conn, [i.key_hash for i in incoming])
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    for item in incoming:
        row = merge_item(existing.get(item.key_hash), item, source, now)
        if row is None:
            continue
        (changed_rows if "id" in row else new_rows).append(row)
    ids = _insert_new(conn, new_rows)
    ids.update({key: ex.id for key, ex in existing.items()})
    _update_changed(conn, changed_rows)
    touched = _write_sightings(conn, source, incoming, ids, now)
    retagged = rederive_tags(conn, touched | {r["id"] for r in changed_rows})
    already = {r["id"] for r in changed_rows} | {ids[r["key_hash"]] for r in new_rows}
    bumped = (touched | retagged) - already
    if bumped:
        for part in chunks(sorted(bumped)):
            conn.execute(
                update(ITEM).where(ITEM.c.id.in_(part)).values(version=ITEM.c.version + 1, last_seen=now)
            )
    counts = WriteCounts(
        new=len(new_rows),
        updated=len(changed_rows) + len(bumped),
        unchanged=len(incoming) - len(new_rows) - len(changed_rows) - len(bumped),
    )
    if counts.changed:
        bump_data_version(conn)
    return counts


def _load_existing(conn: Connection, key_hashes: Sequence[str]) -> dict[str, Existing]:
    found: dict[str, Existing] = {}
    for part in chunks(sorted(set(key_hashes))):
        for row in conn.execute(select(*_EXISTING_COLUMNS).where(ITEM.c.key_hash.in_(part))).mappings():
            values = {k: row[k] for k in Existing.__dataclass_fields__ if k in row}
            found[row["key_hash"]] = Existing(**values)
    return found


def _insert_new(conn: Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert new items (a concurrent writer's row for the same key wins) and return key_hash -> id."""
    ids: dict[str, int] = {}
    if not rows:
        return ids
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
    params = [{f"_{k}": v for k, v in row.items()} for row in rows]
    conn.execute(stmt, params)


def _write_sightings(
    conn: Connection, source: SourceInfo, incoming: Sequence[Incoming], ids: dict[str, int], now: datetime
) -> set[int]:
    """Upsert what this source said about each item; return the items where a reader would see a change."""
    wanted = {
        ids[i.key_hash]: {
            "item_id": ids[i.key_hash],
            "source_id": source.id,
            "entry_hash": i.entry_hash or None,
            "guid": i.guid,
            "tags": [list(pair) for pair in i.tags],
            "user": i.user,
            "comment": i.comment,
            "bookmark_count": i.bookmark_count,
            "said_at": i.published,
        }
        for i in incoming
        if i.key_hash in ids
    }
    current: dict[int, dict[str, Any]] = {}
    for part in chunks(sorted(wanted)):
        rows = conn.execute(
            select(SIGHTING).where(SIGHTING.c.source_id == source.id, SIGHTING.c.item_id.in_(part))
        ).mappings()
        for row in rows:
            current[row["item_id"]] = dict(row)
    changed = [
        {**row, "first_seen": current.get(item_id, {}).get("first_seen", now), "last_seen": now}
        for item_id, row in wanted.items()
        if item_id not in current or any(current[item_id][k] != v for k, v in row.items())
    ]
    visible = {
        row["item_id"]
        for row in changed
        if row["item_id"] not in current
        or any(current[row["item_id"]][k] != row[k] for k in SIGHTING_VISIBLE)
    }
    for batch in chunks(changed):
        stmt = insert_for(conn, SIGHTING)
        stmt = stmt.on_conflict_do_update(
            index_elements=["item_id", "source_id"],
            set_={
                c: stmt.excluded[c]
                for c in (
                    "entry_hash",
                    "guid",
                    "tags",
                    "user",
                    "comment",
                    "bookmark_count",
                    "said_at",
                    "last_seen",
                )
            },
        )
        conn.execute(stmt, list(batch))
    return visible


def rederive_tags(conn: Connection, item_ids: set[int]) -> set[int]:
    """Make each item's tags the union of its sightings' tags; return the items whose tags changed.

    Link rows whose copy of ``published`` is stale are rewritten too, silently.
    """
    if not item_ids:
        return set()
    ordered = sorted(item_ids)
    said: dict[int, list[list[list[str]]]] = {i: [] for i in ordered}
    published: dict[int, datetime] = {}
    names: dict[int, set[str]] = {i: set() for i in ordered}
    stale: set[int] = set()
    for part in chunks(ordered):
        for item_id, tags in conn.execute(
            select(SIGHTING.c.item_id, SIGHTING.c.tags)
            .where(SIGHTING.c.item_id.in_(part))
            .order_by(SIGHTING.c.item_id, SIGHTING.c.source_id)
        ):
            said[item_id].append(tags)
        for item_id, when in conn.execute(select(ITEM.c.id, ITEM.c.published).where(ITEM.c.id.in_(part))):
            published[item_id] = when
        for item_id, name, when in conn.execute(
            select(ITEM_TAG.c.item_id, TAG.c.name, ITEM_TAG.c.published)
            .join(TAG, TAG.c.id == ITEM_TAG.c.tag_id)
            .where(ITEM_TAG.c.item_id.in_(part))
        ):
            names[item_id].add(name)
            if when != published[item_id]:
                stale.add(item_id)
    unions = {i: union_tags(said[i]) for i in ordered}
    changed = {i for i in ordered if set(unions[i]) != names[i]}
    rewrite = sorted(changed | stale)
    tag_ids = _ensure_tags(conn, {n: d for i in rewrite for n, d in unions[i].items()})
    for part in chunks(rewrite):
        conn.execute(delete(ITEM_TAG).where(ITEM_TAG.c.item_id.in_(part)))
    links = [
        {"item_id": i, "tag_id": tag_ids[name], "published": published[i]}
        for i in rewrite
        for name in unions[i]
    ]
    for link_batch in chunks(links):
        conn.execute(insert_for(conn, ITEM_TAG).on_conflict_do_nothing(), list(link_batch))
    return changed


def _ensure_tags(conn: Connection, names: dict[str, str]) -> dict[str, int]:
    """Tag ids by name, creating the missing tags (the first display form seen is kept)."""
    if not names:
        return {}
    rows = [{"name": n, "display": d} for n, d in sorted(names.items())]
    for row_batch in chunks(rows):
        conn.execute(insert_for(conn, TAG).on_conflict_do_nothing(index_elements=["name"]), list(row_batch))
    ids: dict[str, int] = {}
    for part in chunks(sorted(names)):
        for tag_id, name in conn.execute(select(TAG.c.id, TAG.c.name).where(TAG.c.name.in_(part))):
            ids[name] = int(tag_id)
    return ids
