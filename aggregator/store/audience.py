"""Who sees what: the conditions that keep private sources' data out of public reads, and
``reclassify_items`` for the items of a source that became private or public.

Every read takes an ``Audience`` (``views.PUBLIC`` unless a route holds a valid token of a
private output) and adds these conditions for it:

* an item is public once a public source has brought it: its text then belongs to a public
  source, so its owner's rank is not a private one (``ingest.is_private_rank``; ``item_condition``);
* a sighting is public when its source is (``sighting_condition``, on a query joined to ``source``);
* a tag link is public when a public source's sighting gave the tag (``item_tag.public``,
  ``link_condition``); tag counts and tag filters read only those;
* a source is listed publicly when it is not private (``source_condition``), and only what
  public sources said (sightings, bookmark-count points) counts for the public in a query's
  ``user:`` and ``source:`` terms and the rising order (``said_condition``).

The private audience sees everything, so each condition is ``None`` for it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, FromClause, select, update
from sqlalchemy.engine import Connection

from ..ingest import PRIVATE_DROP
from ..models import Item, ItemTag, Sighting, Source, table_of
from ..views import Audience
from .common import bump_data_version, chunks, wrap_storage_errors
from .items import rederive_tags

ITEM = table_of(Item)
ITEM_TAG = table_of(ItemTag)
SIGHTING = table_of(Sighting)
SOURCE = table_of(Source)


def present(*conditions: ColumnElement[bool] | None) -> list[ColumnElement[bool]]:
    """The conditions that apply (``None`` is none), to spread into ``where``."""
    return [c for c in conditions if c is not None]


def item_condition(audience: Audience) -> ColumnElement[bool] | None:
    """Items ``audience`` may see (None: all): for the public, those a public source has brought."""
    return None if audience.private else ITEM.c.owner_rank >= 0


def sighting_condition(audience: Audience) -> ColumnElement[bool] | None:
    """Sightings ``audience`` may see (None: all), on a query that joins ``source``."""
    return source_condition(audience)


def source_condition(audience: Audience) -> ColumnElement[bool] | None:
    """Sources ``audience`` may see listed (None: all): not the private ones for the public."""
    return None if audience.private else SOURCE.c.private.is_(False)


def said_condition(audience: Audience, rows: FromClause) -> ColumnElement[bool] | None:
    """Rows with a ``source_id`` (sightings, bookmark-count points) ``audience`` may count (None: all):
    for the public, what public sources said."""
    if audience.private:
        return None
    return rows.c.source_id.in_(select(SOURCE.c.id).where(SOURCE.c.private.is_(False)))


def link_condition(audience: Audience, link: FromClause = ITEM_TAG) -> ColumnElement[bool] | None:
    """Tag links ``audience`` may see (None: all); ``link`` may be an alias of ``item_tag``."""
    return None if audience.private else link.c.public.is_(True)


@wrap_storage_errors()
def reclassify_items(conn: Connection, source_ids: Sequence[int]) -> None:
    """After these sources became private or public: their items' tag links are re-derived, and
    the items whose text a now-private source gave are hidden from the public until a public
    source brings them again (the public sources that carry them are made due and re-read)."""
    items = sorted(
        {
            int(i)
            for part in chunks(list(source_ids))
            for i in conn.execute(select(SIGHTING.c.item_id).where(SIGHTING.c.source_id.in_(part))).scalars()
        }
    )
    rederive_tags(conn, items)
    private = [int(i) for i in conn.execute(select(SOURCE.c.id).where(SOURCE.c.private.is_(True))).scalars()]
    demoted: list[int] = []
    for part in chunks(items):
        demoted += [
            int(i)
            for i in conn.execute(
                update(ITEM)
                .where(ITEM.c.id.in_(part), ITEM.c.owner_source_id.in_(private), ITEM.c.owner_rank >= 0)
                .values(owner_rank=ITEM.c.owner_rank - PRIVATE_DROP, version=ITEM.c.version + 1)
                .returning(ITEM.c.id)
            ).scalars()
        ]
    carriers = set()
    for part in chunks(demoted):
        carriers |= set(
            conn.execute(select(SIGHTING.c.source_id).where(SIGHTING.c.item_id.in_(part))).scalars()
        )
    public = [i for i in carriers if i not in private]
    for part in chunks(sorted(public)):
        conn.execute(
            update(SOURCE)
            .where(SOURCE.c.id.in_(part))
            .values(body_hash=None, etag=None, last_modified=None, next_poll_at=None)
        )
    bump_data_version(conn)
