"""The one read of a source's write: every stored item its entries may belong to, and this
source's sightings of them, as one ``ingest.Stored`` snapshot. ``keys.known_from`` reads
what ``keys.assign_keys`` needs out of it and ``ingest.plan_writes`` decides from the same
snapshot, so the batch's items are read once.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import zip_longest
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from .. import ingest
from ..ingest import ItemRow, SightingRow
from ..keys import Lookup
from ..models import Item, Sighting, table_of
from .common import chunks, wrap_storage_errors

ITEM = table_of(Item)
SIGHTING = table_of(Sighting)
SIGHTING_COLUMNS = [c for c in SIGHTING.c if c.name != "item_id"]
_PREFIX = "s_"


@wrap_storage_errors()
def load_batch(conn: Connection, source_id: int, lookup: Lookup) -> ingest.Stored:
    """The items with the looked-up keys or pages, the items this source sighted under the
    looked-up entry hashes, and this source's sightings of all of them.

    Three index lookups for a feed of usual size: the items by key or page hash, this
    source's sightings (with their items) by entry hash, its sightings of the other items.
    """
    items: dict[str, ItemRow] = {}
    for keys, pages in zip_longest(chunks(lookup.key_hashes), chunks(lookup.page_hashes), fillvalue=()):
        found = select(ITEM).where(or_(ITEM.c.key_hash.in_(keys), ITEM.c.page_hash.in_(pages)))
        for row in conn.execute(found).mappings():
            items[row["key_hash"]] = _item_row(row)
    mine: dict[int, SightingRow] = {}
    sighting_columns = [c.label(_PREFIX + c.name) for c in SIGHTING.c]
    for part in chunks(lookup.entry_hashes):
        by_entry = conn.execute(
            select(*sighting_columns, ITEM)
            .join(ITEM, ITEM.c.id == SIGHTING.c.item_id)
            .where(SIGHTING.c.source_id == source_id, SIGHTING.c.entry_hash.in_(part))
        ).mappings()
        for row in by_entry:
            items.setdefault(row["key_hash"], _item_row(row))
            mine[int(row[_PREFIX + "item_id"])] = _sighting_row(row, _PREFIX)
    ids = sorted(int(r.id) for r in items.values() if r.id is not None and r.id not in mine)
    for id_part in chunks(ids):
        on_items = conn.execute(
            select(SIGHTING).where(SIGHTING.c.item_id.in_(id_part), SIGHTING.c.source_id == source_id)
        ).mappings()
        for row in on_items:
            mine[int(row["item_id"])] = _sighting_row(row)
    return ingest.Stored(items=items, mine=mine)


def _item_row(row: Any) -> ItemRow:
    return ItemRow(**{name: row[name] for name in ingest.COLUMNS})


def _sighting_row(row: Any, prefix: str = "") -> SightingRow:
    values = {c.name: row[prefix + c.name] for c in SIGHTING_COLUMNS}
    values["tags"] = _pairs(row[prefix + "tags"])
    return SightingRow(**values)


def _pairs(tags: Sequence[Sequence[Any]] | None) -> tuple[tuple[str, str], ...]:
    return tuple((str(name), str(display)) for name, display in tags or [])
