"""The pure decision of which item each entry of a poll belongs to (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from aggregator.identity import hash_text
from aggregator.ingest import Incoming, ItemRow, SightingRow, Stored
from aggregator.keys import LEGACY, Known, assign_keys, known_from, lookup_hashes

PAGE = "https://d.example/day"


def incoming(key: str, entry: str, *, legacy: str | None = None, source: int = 1) -> Incoming:
    base = Incoming(
        key=key,
        key_hash=hash_text(key),
        link=key,
        guid=entry,
        title=entry,
        summary=None,
        content=None,
        author=None,
        published=None,
        updated=None,
        site=None,
        bookmark_count=None,
        image=None,
    )
    return replace(
        base, entry_hash=hash_text("id:" + entry), scoped_key=f"guid:{source}:{entry}", legacy_key=legacy
    )


def keys_of(entries: list[Incoming], known: Known | None = None) -> list[str]:
    return [e.key for e in assign_keys(entries, known or Known())]


def test_a_new_entry_takes_its_natural_key() -> None:
    assert keys_of([incoming(PAGE, "e1")]) == [PAGE]


def test_two_entries_of_one_poll_sharing_a_key_get_two_items() -> None:
    assert keys_of([incoming(PAGE, "e1"), incoming(PAGE, "e2")]) == [PAGE, "guid:1:e2"]


def test_an_item_another_source_holds_is_joined() -> None:
    # this source never sighted it: the claim is absent
    assert keys_of([incoming(PAGE, "e1")], Known(claims={})) == [PAGE]


def test_an_item_another_entry_of_this_source_holds_is_not_taken() -> None:
    known = Known(claims={hash_text(PAGE): hash_text("id:e1")})
    assert keys_of([incoming(PAGE, "e2")], known) == ["guid:1:e2"]


def test_an_entry_keeps_its_item_whatever_its_key_is_now() -> None:
    known = Known(by_entry={hash_text("id:e2"): ("guid:1:e2", hash_text("guid:1:e2"))})
    # e1 left the feed and e2 is now alone: it still does not move to the page's key
    assert keys_of([incoming(PAGE, "e2")], known) == ["guid:1:e2"]


def test_reordering_does_not_move_items() -> None:
    known = Known(
        by_entry={
            hash_text("id:e1"): (PAGE, hash_text(PAGE)),
            hash_text("id:e2"): ("guid:1:e2", hash_text("guid:1:e2")),
        },
        claims={hash_text(PAGE): hash_text("id:e1")},
    )
    assert keys_of([incoming(PAGE, "e2"), incoming(PAGE, "e1")], known) == ["guid:1:e2", PAGE]


def test_a_sighting_from_before_entry_identities_is_adopted_once() -> None:
    known = Known(claims={hash_text(PAGE): LEGACY})
    entries = [incoming(PAGE + "#p1", "e1", legacy=PAGE), incoming(PAGE + "#p2", "e2", legacy=PAGE)]
    assert keys_of(entries, known) == [PAGE, PAGE + "#p2"]


def test_a_legacy_key_is_only_adopted_from_this_sources_legacy_sighting() -> None:
    known = Known(claims={hash_text(PAGE): hash_text("id:other")})
    assert keys_of([incoming(PAGE + "#p1", "e1", legacy=PAGE)], known) == [PAGE + "#p1"]


def on_page(*keys: str) -> Known:
    page = hash_text(PAGE)
    return Known(pages={page: tuple((k, hash_text(k)) for k in keys)})


def test_a_section_link_joins_the_one_item_of_its_page() -> None:
    assert keys_of([incoming(PAGE + "#gpu", "e1")], on_page(PAGE)) == [PAGE]
    assert keys_of([incoming(PAGE, "e1")], on_page(PAGE + "#gpu")) == [PAGE + "#gpu"]


def test_a_section_link_does_not_join_a_page_split_into_entries() -> None:
    assert keys_of([incoming(PAGE + "#p5", "e1")], on_page(PAGE + "#p1", PAGE + "#p2")) == [PAGE + "#p5"]


def test_entries_that_split_a_page_in_their_document_never_join_by_page() -> None:
    entries = [
        replace(incoming(PAGE + "#p1", "e1"), split=True),
        replace(incoming(PAGE + "#p2", "e2"), split=True),
    ]
    assert keys_of(entries, on_page(PAGE)) == [PAGE + "#p1", PAGE + "#p2"]


def test_a_page_item_this_source_already_holds_is_not_joined() -> None:
    known = replace(on_page(PAGE), claims={hash_text(PAGE): hash_text("id:e0")})
    assert keys_of([incoming(PAGE + "#gpu", "e1")], known) == [PAGE + "#gpu"]


def stored_item(key: str, item_id: int, *, page: str | None = None) -> ItemRow:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    return ItemRow(
        key=key,
        key_hash=hash_text(key),
        link=key,
        guid=None,
        title=key,
        summary=None,
        content=None,
        author=None,
        site=None,
        bookmark_count=None,
        image=None,
        page_hash=hash_text(page) if page else None,
        site_key=None,
        published=when,
        has_date=True,
        updated=when,
        first_seen=when,
        last_seen=when,
        id=item_id,
    )


def my_sighting(entry_hash: str | None) -> SightingRow:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    return SightingRow(1, entry_hash, None, (), None, None, None, None, when, when)


def test_known_from_one_snapshot_reads_sightings_claims_and_pages() -> None:
    moved = incoming(PAGE + "#p2", "e2")  # sighted before under another key
    fresh = incoming("https://d.example/new#gpu", "e3")  # its page holds one item
    lookup = lookup_hashes([moved, fresh])
    stored = Stored(
        items={
            hash_text("https://d.example/old"): stored_item("https://d.example/old", 7),
            hash_text("https://d.example/old2"): stored_item("https://d.example/old2", 8),
            hash_text("https://d.example/new"): stored_item(
                "https://d.example/new", 9, page="https://d.example/new"
            ),
        },
        # the same entry sighted on two items: the first by id wins; item 9 is another source's
        mine={8: my_sighting(moved.entry_hash), 7: my_sighting(moved.entry_hash)},
    )
    known = known_from(stored, lookup)
    assert known.by_entry == {moved.entry_hash: ("https://d.example/old", hash_text("https://d.example/old"))}
    assert known.claims == {
        hash_text("https://d.example/old"): moved.entry_hash,
        hash_text("https://d.example/old2"): moved.entry_hash,
    }
    assert keys_of([moved, fresh], known) == ["https://d.example/old", "https://d.example/new"]


def test_lookup_covers_every_key_an_entry_may_take() -> None:
    entry = incoming(PAGE, "e1", legacy="https://d.example/legacy")
    lookup = lookup_hashes([entry])
    expected = {hash_text(PAGE), hash_text("guid:1:e1"), hash_text("https://d.example/legacy")}
    assert set(lookup.key_hashes) == expected
    assert lookup.entry_hashes == (hash_text("id:e1"),)
