"""Pure: merge what one source says about an item into the stored item.

``ItemRow`` is the one declaration of an item's columns on this side of storage
(``models.Item`` is the table; a test holds the two equal). ``merge_item`` returns
the row to write, or ``None`` when the stored item already says all of it.

Text fields belong to one source at a time: a source keeps them until a higher-ranked
one brings the item, so two feeds that disagree never make an item flap between their
versions. A lower or equal source only fills empty fields. Bookmark counts keep the
highest figure any source reported.

A private source (``incoming.is_private_rank``) writes an item's fields only while no public
source has brought it. The first public source to bring it takes it over whole: every text
field, the dates (first seen: now) and the bookmark count become what that source says (empty where it says
nothing), so nothing a private source said stays on an item the public sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from ..identity import site_key
from .incoming import SHARED_FIELDS, Incoming, ItemText, SourceInfo, is_private_rank

# The fields a source's text owns, in the order they are compared.
TEXT_FIELDS = ("link", "guid", "title", "summary", "content", "author", "image", "enclosures")


@dataclass(frozen=True)
class ItemRow(ItemText):
    """One row of the item table. ``id`` is ``None`` until storage has inserted it."""

    page_hash: str | None
    site_key: str | None  # identity.site_key(site): "this host and its subdomains" is a range
    published: datetime
    has_date: bool  # ``published`` came from a feed, not from first_seen
    updated: datetime
    first_seen: datetime
    last_seen: datetime
    enclosures: list[dict[str, Any]] = field(default_factory=list)
    owner_source_id: int | None = None  # the source whose text fields are kept
    owner_rank: int = 0
    version: int = 1
    id: int | None = None

    def values(self) -> dict[str, Any]:
        """Column name -> value, for a bulk statement (``id`` left out while it is unknown)."""
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.id is None:
            del row["id"]
        return row


COLUMNS = tuple(f.name for f in fields(ItemRow))


def merge_item(
    existing: ItemRow | None, incoming: Incoming, source: SourceInfo, now: datetime
) -> ItemRow | None:
    """The item row to write, or ``None`` when the stored item already says all of it."""
    if existing is None:
        return new_item(incoming, source, now)
    if is_private_rank(existing.owner_rank) and not is_private_rank(incoming.rank):
        changes = _taken_over(existing, incoming, source, now)
    elif is_private_rank(incoming.rank) and not is_private_rank(existing.owner_rank):
        return None  # a private source never writes what the public sees of an item
    else:
        changes = _merged_fields(existing, incoming, source)
    if not changes:
        return None
    return replace(existing, **changes, version=existing.version + 1, last_seen=now)


def new_item(incoming: Incoming, source: SourceInfo, now: datetime) -> ItemRow:
    """The row of an item first seen in ``incoming``."""
    published = incoming.published or now
    return ItemRow(
        **{name: getattr(incoming, name) for name in SHARED_FIELDS},
        page_hash=incoming.page_hash,
        site_key=site_key(incoming.site),
        published=published,
        has_date=incoming.published is not None,
        updated=incoming.updated or published,
        first_seen=now,
        last_seen=now,
        enclosures=incoming.enclosure_dicts(),
        owner_source_id=source.id,
        owner_rank=incoming.rank,
    )


def _offered(incoming: Incoming, name: str) -> Any:
    return incoming.enclosure_dicts() if name == "enclosures" else getattr(incoming, name)


def _taken_over(existing: ItemRow, incoming: Incoming, source: SourceInfo, now: datetime) -> dict[str, Any]:
    """A public source's first sighting of an item only private sources had: its fields, whole."""
    published = incoming.published or now
    return {
        **{name: _offered(incoming, name) for name in TEXT_FIELDS},
        "owner_source_id": source.id,
        "owner_rank": incoming.rank,
        "published": published,
        "has_date": incoming.published is not None,
        "updated": incoming.updated or published,
        "first_seen": now,  # to the public, the item is new now
        "bookmark_count": incoming.bookmark_count,
    }


def _merged_fields(existing: ItemRow, incoming: Incoming, source: SourceInfo) -> dict[str, Any]:
    owns = existing.owner_source_id == source.id or incoming.rank > existing.owner_rank
    changes: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        new, old = _offered(incoming, name), getattr(existing, name)
        if new and new != old and (owns or not old):
            changes[name] = new
    if owns and (existing.owner_source_id != source.id or existing.owner_rank != incoming.rank):
        changes["owner_source_id"] = source.id
        changes["owner_rank"] = incoming.rank
    if incoming.published and (owns or not existing.has_date) and incoming.published != existing.published:
        changes["published"] = incoming.published
        changes["has_date"] = True
    new_updated = incoming.updated or incoming.published
    if owns and new_updated and new_updated > existing.updated:
        changes["updated"] = new_updated
    if incoming.bookmark_count is not None and (
        existing.bookmark_count is None or incoming.bookmark_count > existing.bookmark_count
    ):
        changes["bookmark_count"] = incoming.bookmark_count
    if set(changes) <= {"owner_source_id", "owner_rank"}:
        return {}  # ownership moves only with a change a reader would see
    return changes


def union_tags(sightings: Sequence[Sequence[Sequence[str]]]) -> dict[str, str]:
    """Union of every source's (name, display) pairs for one item; first display wins."""
    union: dict[str, str] = {}
    for pairs in sightings:
        for name, display in pairs:
            union.setdefault(name, display)
    return union
