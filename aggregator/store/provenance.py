"""Reads for "why is this item here": one item as a slice shows it, every source's sighting
of it, where each of its fields came from, and its bookmark-count history.

Which field comes from where is decided by ``ingest.merge`` when items are written; here it
is only named, field by field, from what the item row and its sightings hold
(``field_origins``). The page and the JSON that show it belong to ``pages`` and ``api``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..ingest.merge import TEXT_FIELDS
from ..models import BookmarkPoint as BookmarkPointRow
from ..models import Item, Sighting, Source, table_of
from ..views import PUBLIC, Audience, BookmarkPoint, FieldOrigin, Provenance, Sighted, SourceRef, source_label
from .audience import item_condition, present, sighting_condition, source_condition
from .common import wrap_storage_errors
from .itemviews import item_views

ITEM = table_of(Item)
SIGHTING = table_of(Sighting)
SOURCE = table_of(Source)
POINT = table_of(BookmarkPointRow)
MAX_ITEM_ID = 2**63 - 1  # item.id is a 64-bit integer on both databases

OWNER_NOTE = (
    "kept from the owning source, the highest-ranked one that carried the item (the publisher's "
    "own feed, then a per-site feed, a per-tag feed, a user's bookmarks); a field the owner left "
    "empty is filled by another source"
)
NOTES = {
    "published": "the owning source's date; while no source had given one, the first date any source gave",
    "updated": "the newest update any source reported while it owned the item (not kept per source)",
    "site": "the host of the link",
    "tags": "the union of every source's tags",
    "bookmark_count": "the highest count any source reported",
}
FIRST_SEEN_NOTE = "no source gave a date: when the item was first seen"


@wrap_storage_errors()
def item_provenance(conn: Connection, item_id: int, audience: Audience = PUBLIC) -> Provenance | None:
    """Why item ``item_id`` is there, or None when there is no such item that ``audience`` may see
    (what private sources said is left out for the public)."""
    if not 0 < item_id <= MAX_ITEM_ID:
        return None
    query = select(ITEM).where(ITEM.c.id == item_id, *present(item_condition(audience)))
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    (item,) = item_views(conn, [row], audience)
    owner = row["owner_source_id"]
    sightings = item_sightings(conn, item_id, owner, audience)
    return Provenance(
        item=item,
        owner_source_id=owner,
        sightings=sightings,
        fields=field_origins(row, sightings),
        history=_history(conn, item_id, audience),
    )


def field_origins(row: Mapping[Any, Any], sightings: Sequence[Sighted]) -> tuple[FieldOrigin, ...]:
    """Each field of the item row ``row``, the rule that set it and the sources it came from."""
    owner = row["owner_source_id"]
    mine = (owner,) if owner is not None else ()

    def said(matches: Callable[[Sighted], object]) -> tuple[int, ...]:
        return tuple(s.source.id for s in sightings if matches(s))

    origins = [FieldOrigin(name, "owner", mine, OWNER_NOTE) for name in TEXT_FIELDS]
    if row["has_date"]:
        published: datetime = row["published"]
        dated = said(lambda s: s.said_at == published)
        origins.append(FieldOrigin("published", "owner", dated or mine, NOTES["published"]))
    else:
        origins.append(FieldOrigin("published", "first_seen", (), FIRST_SEEN_NOTE))
    origins += [
        FieldOrigin("updated", "owner", (), NOTES["updated"]),
        FieldOrigin("site", "owner", mine, NOTES["site"]),
        FieldOrigin("tags", "all_sources", said(lambda s: s.tags), NOTES["tags"]),
    ]
    count = row["bookmark_count"]
    counted = said(lambda s: count is not None and s.bookmark_count == count)
    origins.append(FieldOrigin("bookmark_count", "all_sources", counted, NOTES["bookmark_count"]))
    return tuple(origins)


@wrap_storage_errors()
def item_sightings(
    conn: Connection, item_id: int, owner: int | None = None, audience: Audience = PUBLIC
) -> tuple[Sighted, ...]:
    """What each source ``audience`` may see said about item ``item_id``, first seen first; ``owner``
    names the source that owns its text."""
    query = (
        select(SIGHTING, SOURCE.c.url, SOURCE.c.title, SOURCE.c.feed_title, SOURCE.c.kind)
        .join(SOURCE, SOURCE.c.id == SIGHTING.c.source_id)
        .where(SIGHTING.c.item_id == item_id, *present(sighting_condition(audience)))
        .order_by(SIGHTING.c.first_seen, SIGHTING.c.source_id)
    )
    found = []
    for row in conn.execute(query).mappings():
        pairs = [(str(name), str(display)) for name, display in row["tags"] or ()]
        ref = SourceRef(
            id=row["source_id"],
            url=row["url"],
            title=source_label(row["url"], row["title"], row["feed_title"]),
            kind=row["kind"],
            user=row["user"],
            comment=row["comment"],
            seen=row["said_at"] or row["first_seen"],
        )
        found.append(
            Sighted(
                source=ref,
                tags=tuple(display for _, display in pairs),
                tag_names=tuple(name for name, _ in pairs),
                bookmark_count=row["bookmark_count"],
                said_at=row["said_at"],
                first_seen=row["first_seen"],
                last_seen=row["last_seen"],
                owner=row["source_id"] == owner,
            )
        )
    return tuple(found)


def _history(conn: Connection, item_id: int, audience: Audience) -> tuple[BookmarkPoint, ...]:
    query = (
        select(
            POINT.c.at, POINT.c.count, POINT.c.source_id, SOURCE.c.url, SOURCE.c.title, SOURCE.c.feed_title
        )
        .join(SOURCE, SOURCE.c.id == POINT.c.source_id)
        .where(POINT.c.item_id == item_id, *present(source_condition(audience)))
        .order_by(POINT.c.at, POINT.c.source_id)
    )
    return tuple(
        BookmarkPoint(
            r["at"], int(r["count"]), r["source_id"], source_label(r["url"], r["title"], r["feed_title"])
        )
        for r in conn.execute(query).mappings()
    )
