"""Pure: the writes one poll makes, decided from a snapshot of what is stored (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from aggregator.identity import hash_text
from aggregator.ingest import (
    Incoming,
    SightingRow,
    SourceInfo,
    Stored,
    TagsStored,
    WritePlan,
    merge_item,
    plan_tags,
    plan_writes,
    sighting,
)

NOW = datetime(2026, 11, 24, tzinfo=UTC)
DAY1 = datetime(2024, 1, 1, tzinfo=UTC)
DAY2 = datetime(2024, 1, 2, tzinfo=UTC)
SITE, USER, OTHER = SourceInfo(2, "site"), SourceInfo(4, "user"), SourceInfo(9, "tag")
KEY = "https://deeeet.com/a"
KH = hash_text(KEY)


def said(source: SourceInfo, tags: tuple[str, ...] = ("go",), **values: Any) -> Incoming:
    base = Incoming(
        key=KEY, key_hash=KH, link=KEY, guid=None, title="title", summary="s", content=None, author=None,
        published=DAY1, updated=None, site="deeeet.com", bookmark_count=None, image=None, rank=source.rank,
        entry_hash=hash_text("e"), tags=tuple((t, t.upper()) for t in tags),
    )  # fmt: skip
    return replace(base, **values)


State = tuple[Stored, TagsStored]


def stored(first: Incoming, source: SourceInfo, *others: SightingRow) -> State:
    """The state after ``first`` was written by ``source`` (and ``others`` sighted the item)."""
    row = merge_item(None, first, source, DAY1)
    assert row is not None
    row = replace(row, id=7)
    mine = sighting(first, source, DAY1, DAY1)
    said_all = sorted([mine, *others], key=lambda s: s.source_id)
    names = {name for s in said_all for name, _ in s.tags}
    tags = TagsStored(
        said={7: [(s.source_id, s.tags) for s in said_all]}, links={7: dict.fromkeys(names, row.published)}
    )
    return Stored(items={KH: row}, mine={7: mine}), tags


NOTHING: State = (Stored(), TagsStored())


def planned(state: State, source: SourceInfo, incoming: Incoming) -> WritePlan:
    """Both steps, with only the retag items' tag state handed to the second (as storage does)."""
    first = plan_writes(source, [incoming], state[0], NOW)
    wanted = set(first.retag_ids())
    tags = TagsStored(
        said={i: v for i, v in state[1].said.items() if i in wanted},
        links={i: v for i, v in state[1].links.items() if i in wanted},
        private_sources=state[1].private_sources,
        private_links={i: v for i, v in state[1].private_links.items() if i in wanted},
    )
    return plan_tags(first, source, tags)


def other(*tags: str) -> SightingRow:
    return sighting(said(OTHER, tags), OTHER, DAY1, DAY1)


def summary(plan: Any) -> dict[str, Any]:
    return {
        "new": len(plan.new_items),
        "updated": len(plan.updated_items),
        "sightings": len(plan.sightings),
        "tags": [[n for n, _ in t.tags] for t in plan.tag_sets],
        "bumps": len(plan.bumps),
        "counts": (plan.counts.new, plan.counts.updated, plan.counts.unchanged),
    }


CASES = [
    ("a new item", NOTHING, SITE, said(SITE, ("go", "k8s")),
     {"new": 1, "updated": 0, "sightings": 1, "tags": [["go", "k8s"]], "bumps": 0, "counts": (1, 0, 0)}),
    ("the same again", stored(said(SITE), SITE), SITE, said(SITE),
     {"new": 0, "updated": 0, "sightings": 0, "tags": [], "bumps": 0, "counts": (0, 0, 1)}),
    ("a tag added: tags rewritten, version bumped", stored(said(SITE), SITE), SITE, said(SITE, ("go", "k8s")),
     {"new": 0, "updated": 0, "sightings": 1, "tags": [["go", "k8s"]], "bumps": 1, "counts": (0, 1, 0)}),
    ("others' tags stay in the union", stored(said(SITE), SITE, other("x")), SITE, said(SITE, ("k8s",)),
     {"new": 0, "updated": 0, "sightings": 1, "tags": [["k8s", "x"]], "bumps": 1, "counts": (0, 1, 0)}),
    ("a lower count is recorded on the sighting, not shown", stored(said(SITE, bookmark_count=9), SITE), SITE,
     said(SITE, bookmark_count=5),
     {"new": 0, "updated": 0, "sightings": 1, "tags": [], "bumps": 0, "counts": (0, 0, 1)}),
    ("the owner moves the date: row updated, links' copy rewritten", stored(said(SITE), SITE), SITE,
     said(SITE, published=DAY2),
     {"new": 0, "updated": 1, "sightings": 1, "tags": [["go"]], "bumps": 0, "counts": (0, 1, 0)}),
    ("a user's comment edited: version bumped", stored(said(USER, comment="a"), USER), USER,
     said(USER, comment="b"),
     {"new": 0, "updated": 0, "sightings": 1, "tags": [], "bumps": 1, "counts": (0, 1, 0)}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "state", "source", "incoming", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_plan(
    name: str, state: State, source: SourceInfo, incoming: Incoming, expected: dict[str, Any]
) -> None:
    assert summary(planned(state, source, incoming)) == expected


def test_nothing_moved_needs_no_tag_state() -> None:
    assert plan_writes(SITE, [said(SITE)], stored(said(SITE), SITE)[0], NOW).retag_ids() == []


def test_a_sighting_keeps_its_first_seen() -> None:
    plan = planned(stored(said(SITE), SITE), SITE, said(SITE, ("k8s",)))
    [(_, row)] = plan.sightings
    assert (row.first_seen, row.last_seen) == (DAY1, NOW)


MINE = SourceInfo(5, "user", private=True)


def test_a_tag_only_a_private_source_gave_is_linked_as_private() -> None:
    state = stored(said(SITE), SITE)
    plan = planned(state, MINE, said(MINE, ("go", "secret")))
    assert [(sorted(n for n, _ in t.tags), t.private) for t in plan.tag_sets] == [
        (["go", "secret"], frozenset({"secret"}))
    ]


def test_a_public_source_giving_the_same_tag_makes_its_link_public() -> None:
    row = sighting(said(MINE, ("go", "secret")), MINE, DAY1, DAY1)
    item, tags = stored(said(SITE), SITE, row)
    hidden = replace(tags, private_sources=frozenset({MINE.id}), private_links={7: frozenset({"secret"})})
    again = planned((item, hidden), MINE, said(MINE, ("go", "secret"), comment="edited"))
    public = planned((item, hidden), SITE, said(SITE, ("go", "secret")))
    assert again.bumps and again.tag_sets == ()  # the links already say it: nothing rewritten
    assert [(sorted(n for n, _ in t.tags), t.private) for t in public.tag_sets] == [
        (["go", "secret"], frozenset())
    ]
