"""Pure: decide every write one source's poll makes, from what storage holds.

Storage loads a ``Stored`` snapshot of the batch's items and this source's sightings
of them; ``plan_writes`` decides rows and sightings and names the items whose tag set
may move (``WritePlan.retag``). For those only, storage loads every source's tags and
the current links (``TagsStored``) and ``plan_tags`` completes the plan; storage applies
it in bulk. Items are named by ``key_hash``, since new items have no id until inserted.

What a plan says, item by item:

* the item is new, or its fields changed (``merge.merge_item``): a row to write;
* this source's sighting is new or says something else: a sighting to upsert;
* the union of every source's tags moved (or which of them a public source gave), or the
  links' copy of ``published`` is stale: the item's tag set to rewrite (a tag only private
  sources gave is linked as private: public reads skip it);
* a reader sees a change (a sighting's tags, user, comment or date; the tag set) but no
  field changed: the item's version is bumped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
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
    """What storage holds for one batch: its items and this source's sightings of them."""

    items: Mapping[str, ItemRow] = field(default_factory=dict)  # by key_hash
    mine: Mapping[int, SightingRow] = field(default_factory=dict)  # by item id


@dataclass(frozen=True)
class TagsStored:
    """For the items whose tags may move: every other source's tags, and the current links."""

    said: Mapping[int, Sequence[tuple[int, Pairs]]] = field(default_factory=dict)  # item id -> (source, tags)
    links: Mapping[int, Mapping[str, datetime]] = field(
        default_factory=dict
    )  # item id -> name -> published copy
    private_sources: frozenset[int] = frozenset()  # which of the sources in ``said`` are private
    private_links: Mapping[int, frozenset[str]] = field(default_factory=dict)  # item id -> private link names


@dataclass(frozen=True)
class TagSet:
    """An item's whole tag set, to be written in place of the stored one."""

    key_hash: str
    published: datetime
    tags: Pairs
    private: frozenset[str] = frozenset()  # names only private sources gave: linked as private


@dataclass(frozen=True)
class Retag:
    """An item whose tag set may move: this source's tags for it, and its date."""

    key_hash: str
    item_id: int | None
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
    visible: tuple[str, ...] = ()  # key_hashes whose sighting changed in a way a reader sees
    retag: tuple[Retag, ...] = ()  # items whose tag set may move (``plan_tags`` decides)
    tag_sets: tuple[TagSet, ...] = ()
    bumps: tuple[str, ...] = ()  # key_hashes whose version moves with no field change
    counts: WriteCounts = WriteCounts()
    entries: int = 0

    def retag_ids(self) -> list[int]:
        """The stored items whose other sightings and links ``plan_tags`` needs."""
        return sorted({r.item_id for r in self.retag if r.item_id is not None})


def plan_writes(source: SourceInfo, incoming: Sequence[Incoming], stored: Stored, now: datetime) -> WritePlan:
    """Rows and sightings for ``incoming`` (entries already placed on their items by ``keys``).

    The plan's tag sets and counts are final only after ``plan_tags``.
    """
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
    own: dict[str, Pairs] = {}
    visible: list[str] = []
    for entry in incoming:
        row = rows[entry.key_hash]
        current = stored.mine.get(row.id) if row.id is not None else None
        wanted = sighting(entry, source, current.first_seen if current else now, now)
        own[entry.key_hash] = wanted.tags
        if current is None or _differs(current, wanted, SIGHTING_COMPARED):
            sightings.append((entry.key_hash, wanted))
            if current is None or _differs(current, wanted, SIGHTING_VISIBLE):
                visible.append(entry.key_hash)
    candidates = dict.fromkeys([*visible, *(r.key_hash for r in updated)])
    retag = tuple(Retag(k, rows[k].id, rows[k].published, own[k]) for k in candidates)
    return WritePlan(
        tuple(new_items), tuple(updated), tuple(sightings), tuple(visible), retag, entries=len(incoming)
    )


def plan_tags(plan: WritePlan, source: SourceInfo, stored: TagsStored) -> WritePlan:
    """Complete ``plan``: each retag item's tag set (the union of every source's tags, first
    display form by source order) when it moved or its links' date is stale; versions bumped
    where a reader sees a change no field carries; the counts."""
    tag_sets: list[TagSet] = []
    retagged: list[str] = []
    private_sources = stored.private_sources | ({source.id} if source.private else set())
    for r in plan.retag:
        others = (
            [(s, tags) for s, tags in stored.said.get(r.item_id, ()) if s != source.id] if r.item_id else []
        )
        wanted = tag_set(r.key_hash, r.published, [*others, (source.id, r.tags)], private_sources)
        links = stored.links.get(r.item_id, {}) if r.item_id is not None else {}
        hidden = stored.private_links.get(r.item_id, frozenset()) if r.item_id is not None else frozenset()
        moved = {n for n, _ in wanted.tags} != set(links) or wanted.private != hidden
        if moved or any(when != r.published for when in links.values()):
            tag_sets.append(wanted)
        if moved:
            retagged.append(r.key_hash)
    written = {r.key_hash for r in plan.new_items} | {r.key_hash for r in plan.updated_items}
    bumps = tuple(k for k in dict.fromkeys([*plan.visible, *retagged]) if k not in written)
    changed = len(plan.new_items) + len(plan.updated_items) + len(bumps)
    counts = WriteCounts(
        new=len(plan.new_items),
        updated=len(plan.updated_items) + len(bumps),
        unchanged=plan.entries - changed,
    )
    return replace(plan, tag_sets=tuple(tag_sets), bumps=bumps, counts=counts)


def tag_set(
    key_hash: str, published: datetime, said: Sequence[tuple[int, Pairs]], private_sources: Set[int]
) -> TagSet:
    """An item's whole tag set from every source's ``(source id, tags)``; a tag no public source
    gave is marked private."""
    union = tag_union(said)
    public = tag_union([(s, tags) for s, tags in said if s not in private_sources])
    return TagSet(key_hash, published, tuple(union.items()), frozenset(union) - frozenset(public))


def tag_union(said: Sequence[tuple[int, Pairs]]) -> dict[str, str]:
    """An item's tags from every source's ``(source id, tags)``: the first display form, by source id."""
    return union_tags([tags for _, tags in sorted(said, key=lambda pair: pair[0])])


def sighting(entry: Incoming, source: SourceInfo, first_seen: datetime, now: datetime) -> SightingRow:
    """What ``source`` says of the item through ``entry``."""
    said = {name: getattr(entry, name) for name in ("guid", "tags", "user", "comment", "bookmark_count")}
    return SightingRow(
        source_id=source.id,
        entry_hash=entry.entry_hash or None,
        said_at=entry.published,
        first_seen=first_seen,
        last_seen=now,
        **said,
    )


def _differs(a: SightingRow, b: SightingRow, names: Sequence[str]) -> bool:
    return any(getattr(a, n) != getattr(b, n) for n in names)
