"""Bring a database made by an earlier release under today's identity rules, once.

* Sightings get their ``entry_hash`` where the entry's guid was stored with them, so
  those entries find their items by identity from the next poll on. Sightings without
  a guid keep NULL and are adopted by the first matching entry (``keys``).
* Items get their ``page_hash`` (the page their key names, without a fragment).
* Items whose host was stored in Unicode (``例え.jp``) are re-keyed to the IDNA spelling
  (``xn--r8jz45g.jp``), and their ``site`` too; when an item with the new key already
  exists, the two are one article and are merged: sightings move, tags are re-derived,
  nothing is dropped.

The step records itself in ``meta`` (``identity_rule``) and never runs twice.

``upgrade_site_keys`` fills ``item.site_key`` (``identity.site_key``) for items stored
before the column existed, once (``site_key_rule``).

Both run when ``migrations.adopt`` brings a database made before schema migrations under
them, in its transaction, once the database has the columns of revision 0001; they touch
only those columns. Databases made since (at revision 0001 or later) never need them.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection

from ..identity import canonical_link, entry_identity, hash_text, link_host, page_key, site_key
from ..models import Item, ItemTag, Meta, Sighting, table_of
from .common import bump_data_version, insert_for, wrap_storage_errors
from .history import move_points
from .items import rederive_tags

log = logging.getLogger("aggregator.store")

ITEM = table_of(Item)
SIGHTING = table_of(Sighting)
ITEM_TAG = table_of(ItemTag)
META = table_of(Meta)
RULE_KEY = "identity_rule"
RULE = 2
SITE_KEY_RULE_KEY = "site_key_rule"
SITE_KEY_RULE = 1


@wrap_storage_errors()
def upgrade_identity(conn: Connection) -> bool:
    """Apply the identity rule once, in the caller's transaction: entry hashes, hosts, pages.

    Returns whether it ran (False: ``meta`` records it as applied already).
    """
    if _applied(conn, RULE_KEY, RULE):
        return False
    filled = _fill_entry_hashes(conn)
    rekeyed, merged = _rekey_hosts(conn)
    _fill_page_hashes(conn)
    if rekeyed or merged:
        bump_data_version(conn)
    _record(conn, RULE_KEY, RULE)
    if filled or rekeyed or merged:
        log.warning(
            "identity rule %d applied: %d sightings identified, %d items re-keyed, %d merged",
            RULE, filled, rekeyed, merged,
        )  # fmt: skip
    return True


@wrap_storage_errors()
def upgrade_site_keys(conn: Connection) -> bool:
    """Fill ``item.site_key`` once, in the caller's transaction; returns whether it ran."""
    if _applied(conn, SITE_KEY_RULE_KEY, SITE_KEY_RULE):
        return False
    filled = _fill_site_keys(conn)
    _record(conn, SITE_KEY_RULE_KEY, SITE_KEY_RULE)
    if filled:
        log.warning("site keys filled for %d sites", filled)
    return True


def _applied(conn: Connection, key: str, rule: int) -> bool:
    """The rule ``key`` is recorded in ``meta`` at ``rule`` or later."""
    done = conn.execute(select(META.c.value).where(META.c.key == key)).scalar()
    return done is not None and done >= rule


def _record(conn: Connection, key: str, rule: int) -> None:
    stmt = insert_for(conn, META).values(key=key, value=rule)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": rule}))


def _fill_site_keys(conn: Connection) -> int:
    sites = conn.execute(
        select(ITEM.c.site).where(ITEM.c.site.is_not(None), ITEM.c.site_key.is_(None)).distinct()
    ).scalars()
    params = [{"_s": site, "_k": site_key(site)} for site in sites if site]
    if params:
        stmt = (
            update(ITEM)
            .where(ITEM.c.site == bindparam("_s"), ITEM.c.site_key.is_(None))
            .values(site_key=bindparam("_k"))
        )
        conn.execute(stmt, params)
    return len(params)


def _fill_entry_hashes(conn: Connection) -> int:
    rows = conn.execute(
        select(SIGHTING.c.item_id, SIGHTING.c.source_id, SIGHTING.c.guid).where(
            SIGHTING.c.entry_hash.is_(None), SIGHTING.c.guid.is_not(None)
        )
    ).all()
    params = [
        {"_i": item_id, "_s": source_id, "_h": hash_text(entry_identity(guid, None, "", ""))}
        for item_id, source_id, guid in rows
        if guid
    ]
    if params:
        stmt = (
            update(SIGHTING)
            .where(SIGHTING.c.item_id == bindparam("_i"), SIGHTING.c.source_id == bindparam("_s"))
            .values(entry_hash=bindparam("_h"))
        )
        conn.execute(stmt, params)
    return len(params)


def _fill_page_hashes(conn: Connection) -> None:
    rows = conn.execute(select(ITEM.c.id, ITEM.c.key).where(ITEM.c.page_hash.is_(None))).all()
    params = [{"_i": item_id, "_p": hash_text(page)} for item_id, key in rows if (page := page_key(key))]
    if params:
        stmt = update(ITEM).where(ITEM.c.id == bindparam("_i")).values(page_hash=bindparam("_p"))
        conn.execute(stmt, params)


def _rekey_hosts(conn: Connection) -> tuple[int, int]:
    """Re-key items whose key or site spells a host in Unicode; merge into an existing twin."""
    rows = conn.execute(select(ITEM.c.id, ITEM.c.key, ITEM.c.link, ITEM.c.site)).all()
    rekeyed = merged = 0
    touched: set[int] = set()
    for item_id, key, link, site in rows:
        if key.isascii() and (site is None or site.isascii()):
            continue
        new_key = canonical_link(key, keep_fragment=False) if key.startswith("https://") else None
        new_site = link_host(link) if link else site
        values: dict[str, Any] = {"site": new_site, "site_key": site_key(new_site)}
        if new_key and new_key != key:
            twin = conn.execute(select(ITEM.c.id).where(ITEM.c.key_hash == hash_text(new_key))).scalar()
            if twin is not None:
                _merge_into(conn, item_id, int(twin))
                touched.add(int(twin))
                merged += 1
                continue
            values.update(key=new_key, key_hash=hash_text(new_key))
            rekeyed += 1
        conn.execute(update(ITEM).where(ITEM.c.id == item_id).values(**values))
    rederive_tags(conn, touched)
    return rekeyed, merged


def _merge_into(conn: Connection, loser: int, survivor: int) -> None:
    """Move ``loser``'s sightings to ``survivor`` (a source on both keeps the survivor's), drop it."""
    on_survivor = set(
        conn.execute(select(SIGHTING.c.source_id).where(SIGHTING.c.item_id == survivor)).scalars()
    )
    for source_id in conn.execute(select(SIGHTING.c.source_id).where(SIGHTING.c.item_id == loser)).scalars():
        if source_id not in on_survivor:
            conn.execute(
                update(SIGHTING)
                .where(SIGHTING.c.item_id == loser, SIGHTING.c.source_id == source_id)
                .values(item_id=survivor)
            )
    conn.execute(delete(SIGHTING).where(SIGHTING.c.item_id == loser))
    move_points(conn, loser, survivor)
    conn.execute(delete(ITEM_TAG).where(ITEM_TAG.c.item_id == loser))
    conn.execute(delete(ITEM).where(ITEM.c.id == loser))
