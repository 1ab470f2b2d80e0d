"""Pure: what sources say, merged into items, and the writes that follow.

* ``incoming``: a parsed feed as ``Incoming`` records, one per entry identity.
* ``merge``: ``ItemRow`` (an item's columns) and the field merge of one source into it.
* ``plan``: from the snapshots storage loads (``Stored``, ``TagsStored``), the ``WritePlan``
  storage applies.

Which item each entry belongs to is ``keys.assign_keys``; storage loads, this package
decides, storage applies.
"""

from .incoming import (
    PRIVATE_DROP,
    RANKS,
    Incoming,
    SourceInfo,
    is_private_rank,
    prepare_entries,
    tag_pairs,
    text_rank,
    to_incoming,
)
from .merge import COLUMNS, TEXT_FIELDS, ItemRow, merge_item, new_item, union_tags
from .plan import (
    Retag,
    SightingRow,
    Stored,
    TagSet,
    TagsStored,
    WriteCounts,
    WritePlan,
    plan_tags,
    plan_writes,
    sighting,
    tag_set,
    tag_union,
)

__all__ = [
    "COLUMNS",
    "PRIVATE_DROP",
    "RANKS",
    "TEXT_FIELDS",
    "Incoming",
    "ItemRow",
    "Retag",
    "SightingRow",
    "SourceInfo",
    "Stored",
    "TagSet",
    "TagsStored",
    "WriteCounts",
    "WritePlan",
    "is_private_rank",
    "merge_item",
    "new_item",
    "plan_tags",
    "plan_writes",
    "prepare_entries",
    "sighting",
    "tag_pairs",
    "tag_set",
    "tag_union",
    "text_rank",
    "to_incoming",
    "union_tags",
]
