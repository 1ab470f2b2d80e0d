"""Pure: which stored item each entry of one poll belongs to.

An entry's *natural key* (``identity.item_key``) is what lets the same article,
seen through several feeds, become one item. Within one source, though, two
distinct entries (told apart by ``identity.entry_identity``: id, else link, else
title, else content) must never share an item, even when their links are the
same (a podcast whose episodes all link to the show, a link blog that points at
one page twice). The rules, in order:

1. An entry this source already sighted keeps its item, whatever its key is now:
   re-polling, reordering or an edited link never move it.
2. An item sighted by this source before entry identities were recorded (an older
   database) is adopted by the first entry whose natural key, or else whose key
   under the earlier rule, names it.
3. Otherwise it takes its natural key, unless another entry of this source holds
   that item (or took the key earlier in this poll).
4. A fragment the document does not use to tell entries apart (no other entry of it
   links to the same page) only points into the page: when no item has the exact
   key and the page has exactly one item, the entry joins it. So a bookmark of
   ``…/kubernetes-gpu/#gpu`` and the blog's ``…/kubernetes-gpu/`` are one item,
   whichever comes first, while a diary's ``#p1`` and ``#p2`` never merge.
5. Otherwise the entry gets a key of its own, scoped to the source.

Storage loads one ``ingest.Stored`` snapshot for a poll (``store.keys.load_batch``: every
stored item an entry may belong to, and this source's sightings of them); ``known_from``
reads the ``Known`` facts out of it, ``assign_keys`` decides, and the same snapshot then
serves ``ingest.plan_writes``: the batch's items are read once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from .identity import hash_text
from .ingest import Incoming, Stored

LEGACY = ""  # the claim of a sighting stored before entry identities were recorded


@dataclass(frozen=True)
class Known:
    """What storage holds that the decision needs, for one source and one poll."""

    # entry_hash -> (key, key_hash) of the item this source's entry was sighted on
    by_entry: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # key_hash of a stored item -> this source's claim on it: its entry_hash, or LEGACY;
    # items this source never sighted are absent
    claims: Mapping[str, str] = field(default_factory=dict)
    # page_hash -> (key, key_hash) of every stored item on that page (``identity.page_key``)
    pages: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    def exists(self, entry: Incoming) -> bool:
        """An item with the entry's exact key is stored."""
        on_page = self.pages.get(entry.page_hash or "", ())
        return entry.key_hash in self.claims or any(h == entry.key_hash for _, h in on_page)


def assign_keys(incoming: Sequence[Incoming], known: Known) -> list[Incoming]:
    """Each entry with the key of the item it belongs to (rules in the module docstring).

    ``incoming`` holds one ``Incoming`` per entry identity (``prepare_entries``).
    """
    taken: set[str] = set()
    assigned: list[Incoming] = []
    for entry in incoming:
        key, key_hash = _choose(entry, known, taken)
        taken.add(key_hash)
        assigned.append(entry if key_hash == entry.key_hash else replace(entry, key=key, key_hash=key_hash))
    return assigned


def _choose(entry: Incoming, known: Known, taken: set[str]) -> tuple[str, str]:
    found = known.by_entry.get(entry.entry_hash)
    if found is not None and found[1] not in taken:
        return found
    free = entry.key_hash not in taken
    claim = known.claims.get(entry.key_hash)
    if free and claim in (LEGACY, entry.entry_hash):
        return entry.key, entry.key_hash
    legacy = entry.legacy_key_hash
    if entry.legacy_key and legacy not in taken and known.claims.get(legacy) == LEGACY:
        return entry.legacy_key, legacy
    if free and claim is None:
        if known.exists(entry) or entry.split:
            return entry.key, entry.key_hash
        on_page = known.pages.get(entry.page_hash or "", ())
        if len(on_page) == 1 and on_page[0][1] not in taken and on_page[0][1] not in known.claims:
            return on_page[0]
        return entry.key, entry.key_hash
    return entry.scoped_key, hash_text(entry.scoped_key)


@dataclass(frozen=True)
class Lookup:
    """What storage reads for one poll's entries: this source's sightings by entry hash, and
    the items by key hash (natural, earlier-rule and source-scoped keys) and by page hash."""

    entry_hashes: tuple[str, ...]
    key_hashes: tuple[str, ...]
    page_hashes: tuple[str, ...]


def lookup_hashes(incoming: Sequence[Incoming]) -> Lookup:
    """The hashes storage looks up so that ``assign_keys`` and ``plan_writes`` find every item
    an entry may end on: whichever key ``assign_keys`` picks is among them."""
    keys: list[str] = []
    for i in incoming:
        keys.append(i.key_hash)
        keys.append(hash_text(i.scoped_key))
        if i.legacy_key:
            keys.append(i.legacy_key_hash)
    pages = {i.page_hash for i in incoming if i.page_hash and not i.split}
    return Lookup(
        entry_hashes=tuple(sorted({i.entry_hash for i in incoming})),
        key_hashes=tuple(sorted(set(keys))),
        page_hashes=tuple(sorted(pages)),
    )


def known_from(stored: Stored, lookup: Lookup) -> Known:
    """The facts ``assign_keys`` needs, read out of the snapshot loaded for ``lookup``.

    ``stored.items`` holds every item with a looked-up key or page and every item this
    source sighted under a looked-up entry hash; ``stored.mine`` this source's sightings
    of them. The first item (by id) wins when one entry hash was sighted on several.
    """
    by_id = {row.id: row for row in stored.items.values() if row.id is not None}
    wanted = set(lookup.entry_hashes)
    by_entry: dict[str, tuple[str, str]] = {}
    claims: dict[str, str] = {}
    for item_id in sorted(stored.mine):
        item = by_id.get(item_id)
        if item is None:
            continue
        entry_hash = stored.mine[item_id].entry_hash
        claims[item.key_hash] = entry_hash or LEGACY
        if entry_hash in wanted:
            by_entry.setdefault(entry_hash, (item.key, item.key_hash))
    pages_wanted = set(lookup.page_hashes)
    pages: dict[str, list[tuple[str, str]]] = {}
    for row in stored.items.values():
        if row.page_hash in pages_wanted:
            pages.setdefault(row.page_hash, []).append((row.key, row.key_hash))
    return Known(by_entry=by_entry, claims=claims, pages={p: tuple(sorted(v)) for p, v in pages.items()})
