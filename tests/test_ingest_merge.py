"""Pure merge rules, as a table: which source's words, dates and counts an item keeps."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from aggregator.identity import hash_text
from aggregator.ingest import COLUMNS, Incoming, ItemRow, SourceInfo, is_private_rank, merge_item
from aggregator.models import Item, table_of

NOW = datetime(2026, 11, 24, tzinfo=UTC)
DAY1 = datetime(2024, 1, 1, tzinfo=UTC)
DAY2 = datetime(2024, 1, 2, tzinfo=UTC)
BLOG, SITE, TAG, USER = (
    SourceInfo(1, "feed"),
    SourceInfo(2, "site"),
    SourceInfo(3, "tag"),
    SourceInfo(4, "user"),
)
MINE, MY_BLOG = SourceInfo(5, "user", private=True), SourceInfo(6, "feed", private=True)
KEY = "https://deeeet.com/a"


def said(source: SourceInfo, **values: Any) -> Incoming:
    base = Incoming(
        key=KEY, key_hash=hash_text(KEY), link=KEY, guid=None, title="title", summary="summary", content=None,
        author=None, published=DAY1, updated=None, site="deeeet.com", bookmark_count=None, image=None,
        rank=source.rank,
    )  # fmt: skip
    return replace(base, **values)


def stored_by(source: SourceInfo, **values: Any) -> ItemRow:
    row = merge_item(None, said(source), source, NOW)
    assert row is not None
    return replace(row, id=7, first_seen=DAY1, last_seen=DAY1, **values)


CASES: list[tuple[str, ItemRow, SourceInfo, Incoming, dict[str, Any] | None]] = [
    ("the same words again change nothing", stored_by(SITE), SITE, said(SITE), None),
    ("the owner rewords", stored_by(SITE), SITE, said(SITE, title="new"), {"title": "new"}),
    ("a lower source cannot reword", stored_by(SITE), TAG, said(TAG, title="other"), None),
    ("a lower source fills an empty field", stored_by(SITE), TAG, said(TAG, author="me"), {"author": "me"}),
    (
        "a higher source takes the words and the ownership",
        stored_by(TAG), BLOG, said(BLOG, summary="本文"),
        {"summary": "本文", "owner_source_id": BLOG.id, "owner_rank": BLOG.rank},
    ),
    ("ownership alone never moves", stored_by(TAG), BLOG, said(BLOG), None),
    (
        "a higher count is kept",
        stored_by(SITE, bookmark_count=5), TAG, said(TAG, bookmark_count=9), {"bookmark_count": 9},
    ),
    ("a lower count is nothing", stored_by(SITE, bookmark_count=9), TAG, said(TAG, bookmark_count=5), None),
    ("0 is not rewritten", stored_by(SITE, bookmark_count=0), SITE, said(SITE, bookmark_count=0), None),
    (
        "a date fills an undated item",
        stored_by(SITE, has_date=False, published=NOW), TAG, said(TAG, published=DAY2),
        {"published": DAY2, "has_date": True},
    ),
    ("a lower source does not move a date", stored_by(SITE), TAG, said(TAG, published=DAY2), None),
    (
        "the owner's later update moves updated",
        stored_by(SITE), SITE, said(SITE, updated=DAY2), {"updated": DAY2},
    ),
    # A private source: below every public one, and silent on an item a public source has.
    (
        "a private source fills nothing on a public item",
        stored_by(USER, author=None, has_date=False, bookmark_count=None), MINE,
        said(MINE, author="me", published=DAY2, bookmark_count=99), None,
    ),
    ("a private feed ranks below a bookmark", stored_by(USER), MY_BLOG, said(MY_BLOG, title="x"), None),
    (
        "a private source rewords its own private item",
        stored_by(MINE), MINE, said(MINE, title="mine", bookmark_count=4),
        {"title": "mine", "bookmark_count": 4},
    ),
    (
        "a public source takes a private item whole: what it leaves empty is emptied",
        stored_by(MY_BLOG, author="me", image="https://i.example/p.png", bookmark_count=99, updated=DAY2),
        USER, said(USER, summary=None, published=None),
        {
            "summary": None, "author": None, "image": None, "bookmark_count": None,
            "published": NOW, "has_date": False, "updated": NOW, "first_seen": NOW,
            "owner_source_id": USER.id, "owner_rank": USER.rank,
        },
    ),
    (
        "a public source takes a private item even when they agree",
        stored_by(MINE), TAG, said(TAG),
        {"owner_source_id": TAG.id, "owner_rank": TAG.rank, "first_seen": NOW},
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "stored", "source", "incoming", "changes"), CASES, ids=[c[0] for c in CASES]
)
def test_merge_rules(
    name: str, stored: ItemRow, source: SourceInfo, incoming: Incoming, changes: dict[str, Any] | None
) -> None:
    row = merge_item(stored, incoming, source, NOW)
    if changes is None:
        assert row is None
        return
    assert row is not None
    moved = {
        f.name: getattr(row, f.name) for f in fields(row) if getattr(row, f.name) != getattr(stored, f.name)
    }
    assert moved == {**changes, "version": stored.version + 1, "last_seen": NOW}


def test_a_new_item_takes_every_field_from_its_first_source() -> None:
    row = merge_item(None, said(USER, title="t", bookmark_count=3), USER, NOW)
    assert row is not None
    assert (row.title, row.bookmark_count, row.owner_source_id, row.version, row.first_seen) == (
        "t",
        3,
        USER.id,
        1,
        NOW,
    )


def test_an_undated_new_item_is_dated_when_first_seen() -> None:
    row = merge_item(None, said(SITE, published=None), SITE, NOW)
    assert row is not None and row.published == NOW and row.has_date is False


def test_every_private_rank_is_below_every_public_one() -> None:
    kinds = ("feed", "site", "tag", "user", "unknown")
    private = [SourceInfo(1, kind, private=True).rank for kind in kinds]
    public = [SourceInfo(1, kind).rank for kind in kinds]
    assert max(private) < min(public) and all(map(is_private_rank, private))
    assert not any(map(is_private_rank, public))


def test_item_row_declares_the_item_tables_columns() -> None:
    assert set(COLUMNS) == {c.name for c in table_of(Item).columns}
