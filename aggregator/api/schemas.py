"""The JSON the API returns, as pydantic models that also draw the OpenAPI
schema: items and their sources, a page of items, one item's provenance, tags,
source health and the error body, and the ``ERRORS`` responses a route declares.
``ItemOut``, ``ProvenanceOut`` and ``SourceOut`` are read from the store's
``ItemView``, ``Provenance`` and ``SourceView`` (``from_view``). No routes and
no queries belong here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..errors import Category
from ..views import FieldRule, ItemView, PollStatus, Provenance, SourceView


class SourceRefOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    url: str
    kind: str
    user: str | None = None
    comment: str | None = None


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    link: str | None
    title: str
    summary: str | None
    content: str | None
    author: str | None
    published: datetime
    updated: datetime
    site: str | None
    bookmark_count: int | None
    growth: int | None = None  # sort=rising: new bookmarks in the window
    image: str | None
    tags: list[str]
    sources: list[SourceRefOut]

    @classmethod
    def from_view(cls, item: ItemView) -> ItemOut:
        return cls.model_validate(item)


class ItemsPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None
    filter: str


class SightingOut(BaseModel):
    """One source that carried the item, and what it said about it."""

    source_id: int
    kind: str  # site | tag | user | feed
    title: str  # what to call the source
    url: str
    tags: list[str]  # as this source gave them (display forms)
    user: str | None  # who bookmarked it (bookmark feeds)
    comment: str | None  # that user's comment, plain text
    bookmark_count: int | None  # the count this source reported
    said_at: datetime | None  # the entry's own date in this source
    first_seen: datetime  # when this source first carried it
    last_seen: datetime  # when this source last carried it
    owner: bool  # the item keeps this source's text fields


class FieldOriginOut(BaseModel):
    """Where one field of the item came from."""

    field: str
    rule: FieldRule  # owner | all_sources | first_seen
    sources: list[int]  # source ids
    note: str


class BookmarkPointOut(BaseModel):
    at: datetime
    count: int
    source_id: int
    source_title: str


class ProvenanceOut(BaseModel):
    """One item and why it is here: its sources, its fields' origins, its bookmark-count history."""

    item: ItemOut
    page: str  # the item's HTML page
    owner_source_id: int | None
    sightings: list[SightingOut]  # first sighted first
    fields: list[FieldOriginOut]
    bookmark_history: list[BookmarkPointOut]  # oldest first

    @classmethod
    def from_view(cls, prov: Provenance, page: str) -> ProvenanceOut:
        return cls(
            item=ItemOut.from_view(prov.item),
            page=page,
            owner_source_id=prov.owner_source_id,
            sightings=[
                SightingOut(
                    source_id=s.source.id,
                    kind=s.source.kind,
                    title=s.source.title,
                    url=s.source.url,
                    tags=list(s.tags),
                    user=s.source.user,
                    comment=s.source.comment,
                    bookmark_count=s.bookmark_count,
                    said_at=s.said_at,
                    first_seen=s.first_seen,
                    last_seen=s.last_seen,
                    owner=s.owner,
                )
                for s in prov.sightings
            ],
            fields=[
                FieldOriginOut(field=f.field, rule=f.rule, sources=list(f.sources), note=f.note)
                for f in prov.fields
            ],
            bookmark_history=[
                BookmarkPointOut(at=p.at, count=p.count, source_id=p.source_id, source_title=p.source_title)
                for p in prov.history
            ],
        )


class TagOut(BaseModel):
    name: str
    display: str
    count: int
    feed: str


class SourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    title: str  # what to call it: SourceView.label
    kind: str
    enabled: bool
    removed: bool = False  # no longer in the configuration: never polled again, its items kept
    gone: bool
    items: int
    last_status: PollStatus | None
    last_http_status: int | None
    last_error: str | None
    error_category: Category | None
    last_error_at: datetime | None
    last_warning: str | None = None  # the last parse recovered from damage: what, and entries kept
    consecutive_errors: int
    last_polled_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None  # None for a removed source

    @classmethod
    def from_view(cls, source: SourceView) -> SourceOut:
        out = cls.model_validate(source)
        return out.model_copy(update={"title": source.label, "next_poll_at": source.next_poll})


class ErrorOut(BaseModel):
    error: str
    parameter: str | None = None
    message: str


ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 422: {"model": ErrorOut}}


class FilterErrorOut(BaseModel):
    """A bad ``filter`` query: where (0-based character offset) and why."""

    error: str = "invalid_filter"
    position: int
    message: str


FILTER_DESCRIPTION = (
    "A filter query, ANDed with the other parameters and with the route's own filter. Terms: "
    "`tag:kubernetes` (or `#kubernetes`), `site:example.com` (and its subdomains), "
    "`source:<id or feed URL>`, "
    "`user:name` (bookmarked by), `bookmarks:>=100` (`>`, `>=`, `<`, `<=`, `=`, `100..500`), "
    "`date:7d` / `date:>=2024-05-01` / `date:2024-05-01..2024-06-01`, `intitle:word`, `author:name`, "
    'a bare `word` or `"exact phrase"` (title, summary or content). `-` negates a term or a group, '
    "terms side by side must all hold, `OR` (upper case) between terms or groups, parentheses group. "
    "At most 500 characters. Example: `tag:kubernetes -tag:helm bookmarks:>=300`. A bad query is "
    'answered 422 with `{"error": "invalid_filter", "position": 12, "message": "…"}`.'
)
FILTER_PARAMETER: dict[str, Any] = {
    "parameters": [
        {
            "name": "filter",
            "in": "query",
            "required": False,
            "description": FILTER_DESCRIPTION,
            "schema": {"type": "string", "maxLength": 500},
            "example": "tag:kubernetes -tag:helm bookmarks:>=300",
        }
    ]
}
FILTER_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut},
    422: {"model": ErrorOut | FilterErrorOut, "description": "A bad parameter, or a bad filter query"},
}


class TermOut(BaseModel):
    """One term of the query for one item: what it says, whether it matches, and the evidence."""

    term: str  # as typed
    position: int
    negated: bool  # under an odd number of '-'
    matches: bool  # the term itself
    holds: bool  # once its '-' applies
    evidence: dict[str, Any]


class ExplainOut(BaseModel):
    item: int
    title: str
    link: str | None
    filter: str  # the slice's canonical parameters
    in_slice: bool
    terms: list[TermOut]
