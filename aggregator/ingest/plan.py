"""Pure: decide every write one source's poll makes, from what storage holds.

Storage loads a ``Stored`` snapshot of the batch's items (``store.items``), this
module returns a ``WritePlan``, and storage applies the plan in bulk. Items are
named by ``key_hash`` in the plan, since new items have no id until inserted.

What a plan says, item by item:

* the item is new, or its fields changed (``merge.merge_item``): a row to write;
* this source's sighting is new or says something else: a sighting to upsert;
* the union of every source's tags moved, or the links' copy of ``published`` is stale:
  the item's tag set to rewrite;
* a reader sees a change (a sighting's tags, user, comment or date; the tag set) but no
  field changed: the item's version is bumped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .incoming import Incoming, SourceInfo
from .merge import ItemRow, merge_item, union_tags

# What a reader sees of a sighting (a source's bookmark count alone shows nowhere).
SIGHTING_VISIBLE = ("tags", "user", "comment", "said_at")
SIGHTING_COMPARED = ("entry_hash", "guid", "bookmark_count", *SIGHTING_VISIBLE)

Pairs = tuple[tuple[str, str], ...]  # (normalized tag name, display form)


@dataclass(frozen=True)
class SightingRow:
    """What one source said about one item (the sighting table, less ``item_id``)."""

    source_id: int
    entry_hash: str | None
    guid: str | None
    tags: Pairs
    user: str | None
    comment: str | None
    bookmark_count: int | None
    said_at: datetime | None
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Stored:
    """What storage holds for one batch: its items, their sightings and tag links."""

    items: Mapping[str, ItemRow] = field(default_factory=dict)  # by key_hash
    sightings: Mapping[int, Sequence[SightingRow]] = field(default_factory=dict)  # by item id, every source
    tags: Mapping[int, Mapping[str, datetime]] = field(
        default_factory=dict
    )  # item id -> name -> published copy


@dataclass(frozen=True)
class TagSet:
    """An item's whole tag set, to be written in place of the stored one."""

    key_hash: str
    published: datetime
    tags: Pairs


@dataclass(frozen=True)
class WriteCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated)


@dataclass(frozen=True)
class WritePlan:
    new_items: tuple[ItemRow, ...] = ()
    updated_items: tuple[ItemRow, ...] = ()
    sightings: tuple[tuple[str, SightingRow], ...] = ()  # (key_hash, row) to upsert
    tag_sets: tuple[TagSet, ...] = ()
    bumps: tuple[str, ...] = ()  # key_hashes whose version moves with no field change
    counts: WriteCounts = WriteCounts()


def plan_writes(source: SourceInfo, incoming: Sequence[Incoming], stored: Stored, now: datetime) -> WritePlan:
    """Every write for ``incoming`` (entries already placed on their items by ``keys``)."""
    rows: dict[str, ItemRow] = {}
    new_items: list[ItemRow] = []
    updated: list[ItemRow] = []
    for entry in incoming:
        existing = stored.items.get(entry.key_hash)
        row = merge_item(existing, entry, source, now)
        if row is not None:
            (new_items if existing is None else updated).append(row)
        kept = row or existing
        assert kept is not None  # merge_item returns a row for every new item
        rows[entry.key_hash] = kept

    sightings: list[tuple[str, SightingRow]] = []
    mine: dict[str, SightingRow | None] = {}
    visible: list[str] = []
    for entry in incoming:
        current = _sighting_of(stored, rows[entry.key_hash], source.id)
        wanted = sighting(entry, source, current.first_seen if current else now, now)
        mine[entry.key_hash] = current
        if current is None or _differs(current, wanted, SIGHTING_COMPARED):
            sightings.append((entry.key_hash, wanted))
            mine[entry.key_hash] = wanted
            if current is None or _differs(current, wanted, SIGHTING_VISIBLE):
                visible.append(entry.key_hash)

    written = {r.key_hash for r in new_items} | {r.key_hash for r in updated}
    tag_sets: list[TagSet] = []
    retagged: set[str] = set()
    for key_hash in dict.fromkeys([*visible, *(r.key_hash for r in updated)]):
        row = rows[key_hash]
        others = [s for s in _sightings(stored, row) if s.source_id != source.id]
        own = mine[key_hash]
        said = sorted([*others, *([own] if own else [])], key=lambda s: s.source_id)
        union = union_tags([s.tags for s in said])
        links = stored.tags.get(row.id, {}) if row.id is not None else {}
        moved = set(union) != set(links)
        if moved or any(when != row.published for when in links.values()):
            tag_sets.append(TagSet(key_hash, row.published, tuple(union.items())))
        if moved:
            retagged.add(key_hash)
    bumps = tuple(k for k in dict.fromkeys([*visible, *sorted(retagged)]) if k not in written)
    counts = WriteCounts(
        new=len(new_items),
        updated=len(updated) + len(bumps),
        unchanged=len(incoming) - len(new_items) - len(updated) - len(bumps),
    )
    return WritePlan(tuple(new_items), tuple(updated), tuple(sightings), tuple(tag_sets), bumps, counts)


def sighting(entry: Incoming, source: SourceInfo, first_seen: datetime, now: datetime) -> SightingRow:
    """What ``source`` says of the item through ``entry``."""
    return SightingRow(
        source_id=source.id,
        entry_hash=entry.entry_hash or None,
        guid=entry.guid,
        tags=entry.tags,
        user=entry.user,
        comment=entry.comment,
        bookmark_count=entry.bookmark_count,
        said_at=entry.published,
        first_seen=first_seen,
        last_seen=now,
    )


def _sightings(stored: Stored, row: ItemRow) -> Sequence[SightingRow]:
    return stored.sightings.get(row.id, ()) if row.id is not None else ()


def _sighting_of(stored: Stored, row: ItemRow, source_id: int) -> SightingRow | None:
    return next((s for s in _sightings(stored, row) if s.source_id == source_id), None)


def _differs(a: SightingRow, b: SightingRow, names: Sequence[str]) -> bool:
    return any(getattr(a, n) != getattr(b, n) for n in names)
