"""Item rows as ``ItemView``s: each with the tags and the sightings (source, user, comment)
its audience may see (``audience``). Which items a slice holds belongs to ``slices``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..models import ItemTag, Sighting, Source, Tag, table_of
from ..views import PUBLIC, Audience, Enclosure, ItemView, SourceRef, source_label
from .audience import link_condition, present, sighting_condition
from .common import wrap_storage_errors

ITEM_TAG = table_of(ItemTag)
TAG = table_of(Tag)
SIGHTING = table_of(Sighting)
SOURCE = table_of(Source)


@wrap_storage_errors()
def item_views(conn: Connection, rows: Sequence[Any], audience: Audience = PUBLIC) -> list[ItemView]:
    """``ItemView``s of item rows (mappings of ``item``'s columns), with the tags and sightings
    ``audience`` may see."""
    ids = [r["id"] for r in rows]
    if not ids:
        return []
    tags: dict[int, list[tuple[str, str]]] = {i: [] for i in ids}
    for item_id, name, display in conn.execute(
        select(ITEM_TAG.c.item_id, TAG.c.name, TAG.c.display)
        .join(TAG, TAG.c.id == ITEM_TAG.c.tag_id)
        .where(ITEM_TAG.c.item_id.in_(ids), *present(link_condition(audience)))
        .order_by(ITEM_TAG.c.item_id, TAG.c.name)
    ):
        tags[item_id].append((name, display))
    refs: dict[int, list[SourceRef]] = {i: [] for i in ids}
    for row in conn.execute(
        select(SIGHTING, SOURCE.c.url, SOURCE.c.title, SOURCE.c.feed_title, SOURCE.c.kind)
        .join(SOURCE, SOURCE.c.id == SIGHTING.c.source_id)
        .where(SIGHTING.c.item_id.in_(ids), *present(sighting_condition(audience)))
        .order_by(SIGHTING.c.item_id, SIGHTING.c.first_seen, SIGHTING.c.source_id)
    ).mappings():
        refs[row["item_id"]].append(
            SourceRef(
                id=row["source_id"],
                url=row["url"],
                title=source_label(row["url"], row["title"], row["feed_title"]),
                kind=row["kind"],
                user=row["user"],
                comment=row["comment"],
                seen=row["said_at"] or row["first_seen"],
            )
        )
    owners = {r["owner_source_id"] for r in rows if r["owner_source_id"] is not None}
    languages: dict[int, str | None] = {
        source_id: language
        for source_id, language in conn.execute(
            select(SOURCE.c.id, SOURCE.c.feed_language).where(SOURCE.c.id.in_(owners))
        )
    }
    return [
        ItemView(
            id=r["id"],
            key=r["key"],
            link=r["link"],
            title=r["title"],
            summary=r["summary"],
            content=r["content"],
            author=r["author"],
            published=r["published"],
            updated=r["updated"],
            first_seen=r["first_seen"],
            site=r["site"],
            bookmark_count=r["bookmark_count"],
            image=r["image"],
            tags=tuple(d for _, d in tags[r["id"]]),
            tag_names=tuple(n for n, _ in tags[r["id"]]),
            sources=tuple(refs[r["id"]]),
            enclosures=tuple(
                Enclosure(e["url"], e.get("type"), e.get("length"))
                for e in (r["enclosures"] or [])
                if e.get("url")
            ),
            version=r["version"],
            language=languages.get(r["owner_source_id"]),
            growth=r.get("growth"),
        )
        for r in rows
    ]
