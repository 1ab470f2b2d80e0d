"""parse.model: what parsing returns is a value, and ``damage_summary`` is the one line a source shows."""

from __future__ import annotations

import dataclasses

import pytest
from feeddocs import HATENA_RSS10, RSS20, parse

from aggregator.parse import Damage, ParsedEntry, ParsedFeed


def test_parsed_feeds_are_values_nobody_downstream_can_alter() -> None:
    # Was: only "setting an attribute raises". What a caller relies on is more: a parsed feed
    # handed to the poller, the cache and the store is the same value everywhere.
    feed = parse(RSS20)
    with pytest.raises(dataclasses.FrozenInstanceError):
        feed.title = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        feed.entries[0].title = "x"  # type: ignore[misc]
    # Every collection is a tuple: nothing to append to or sort in place.
    assert isinstance(feed.entries, tuple) and isinstance(feed.warnings, tuple)
    for entry in feed.entries:
        assert isinstance(entry.tags, tuple) and isinstance(entry.enclosures, tuple)
    # Equal documents give equal, hashable results; different documents do not collide.
    again = parse(RSS20)
    assert again == feed and hash(again) == hash(feed)
    assert len({feed, again, parse(HATENA_RSS10)}) == 2
    assert len({entry.raw_hash for entry in feed.entries}) == len(feed.entries) == 2


def feed_with(entries: int, total: int, damage: tuple[Damage, ...]) -> ParsedFeed:
    entry = ParsedEntry(
        link=None, guid=None, title="t", summary=None, content=None, author=None, published=None,
        updated=None, tags=(), bookmark_count=None, image=None, enclosures=(), raw_hash="0" * 64,
    )  # fmt: skip
    return ParsedFeed(
        format="rss20", title="t", link=None, ttl_minutes=None, is_hatena=False, entries=(entry,) * entries,
        total_entries=total, warnings=(), encoding="utf-8", damage=damage,
    )  # fmt: skip


CUT = Damage("truncated", "document ends at line 9 inside an entry")
BROKEN = Damage("malformed", "XML not well-formed at line 4: mismatched tag")


@pytest.mark.parametrize(
    ("entries", "total", "damage", "expected"),
    [
        (3, 3, (), None),
        (0, 0, (), None),
        (1, 1, (BROKEN,), f"{BROKEN.detail}; recovered 1 entry"),
        (4, 4, (BROKEN,), f"{BROKEN.detail}; recovered 4 entries"),
        (2, 5, (CUT,), f"{CUT.detail}; kept 2 of 5 entries"),
        (0, 1, (CUT,), f"{CUT.detail}; kept 0 of 1 entry"),
        (1, 3, (BROKEN, CUT), f"{BROKEN.detail}; {CUT.detail}; kept 1 of 3 entries"),
    ],
)
def test_damage_summary(entries: int, total: int, damage: tuple[Damage, ...], expected: str | None) -> None:
    assert feed_with(entries, total, damage).damage_summary == expected
