"""Load what ``keys.assign_keys`` needs to place one source's entries on stored items."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..ingest import Incoming
from ..keys import Known, assign_keys, claims_of, lookup_hashes
from ..models import Item, Sighting, table_of
from .common import chunks, wrap_storage_errors

ITEM = table_of(Item)
SIGHTING = table_of(Sighting)


@wrap_storage_errors()
def place_entries(conn: Connection, source_id: int, incoming: Sequence[Incoming]) -> list[Incoming]:
    """``incoming`` with each entry's key set to the item it belongs to (load, then decide)."""
    return assign_keys(incoming, load_known(conn, source_id, incoming))


@wrap_storage_errors()
def load_known(conn: Connection, source_id: int, incoming: Sequence[Incoming]) -> Known:
    """This source's sightings of the entries, and its claims on the items their keys name."""
    entry_hashes, key_hashes, page_hashes = lookup_hashes(incoming)
    by_entry: dict[str, tuple[str, str]] = {}
    for part in chunks(sorted(set(entry_hashes))):
        rows = conn.execute(
            select(SIGHTING.c.entry_hash, ITEM.c.key, ITEM.c.key_hash)
            .join(ITEM, ITEM.c.id == SIGHTING.c.item_id)
            .where(SIGHTING.c.source_id == source_id, SIGHTING.c.entry_hash.in_(part))
            .order_by(ITEM.c.id)
        )
        for entry_hash, key, key_hash in rows:
            by_entry.setdefault(entry_hash, (key, key_hash))
    pages: dict[str, list[tuple[str, str]]] = {}
    for part in chunks(sorted(set(page_hashes))):
        on_page = conn.execute(
            select(ITEM.c.page_hash, ITEM.c.key, ITEM.c.key_hash).where(ITEM.c.page_hash.in_(part))
        )
        for page_hash, key, key_hash in on_page:
            pages.setdefault(page_hash, []).append((key, key_hash))
    key_hashes += [h for items in pages.values() for _, h in items]
    sighted: dict[str, str | None] = {}
    for part in chunks(sorted(set(key_hashes))):
        claims = conn.execute(
            select(ITEM.c.key_hash, SIGHTING.c.entry_hash)
            .join(SIGHTING, SIGHTING.c.item_id == ITEM.c.id)
            .where(SIGHTING.c.source_id == source_id, ITEM.c.key_hash.in_(part))
        )
        for key_hash, entry_hash in claims:
            sighted[key_hash] = entry_hash
    return Known(
        by_entry=by_entry,
        claims=claims_of(sighted),
        pages={page: tuple(sorted(items)) for page, items in pages.items()},
    )
