"""The JSON the API returns, as pydantic models that also draw the OpenAPI
schema: items and their sources, a page of items, tags, source health and the
error body, plus ``item_out`` from the store's ``ItemView`` and the ``ERRORS``
responses a route declares. No routes and no queries belong here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from ..views import ItemView


class SourceRefOut(BaseModel):
    id: int
    title: str
    url: str
    kind: str
    user: str | None = None
    comment: str | None = None


class ItemOut(BaseModel):
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
    image: str | None
    tags: list[str]
    sources: list[SourceRefOut]


class ItemsPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None
    filter: str


class TagOut(BaseModel):
    name: str
    display: str
    count: int
    feed: str


class SourceOut(BaseModel):
    id: int
    url: str
    title: str
    kind: str
    enabled: bool
    removed: bool = False  # no longer in the configuration: never polled again, its items kept
    gone: bool
    items: int
    last_status: str | None
    last_http_status: int | None
    last_error: str | None
    error_category: str | None
    last_error_at: datetime | None
    last_warning: str | None = None  # the last parse recovered from damage: what, and entries kept
    consecutive_errors: int
    last_polled_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None


class ErrorOut(BaseModel):
    error: str
    parameter: str | None = None
    message: str


ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 422: {"model": ErrorOut}}


def item_out(item: ItemView) -> ItemOut:
    return ItemOut(
        id=item.id,
        link=item.link,
        title=item.title,
        summary=item.summary,
        content=item.content,
        author=item.author,
        published=item.published,
        updated=item.updated,
        site=item.site,
        bookmark_count=item.bookmark_count,
        image=item.image,
        tags=list(item.tags),
        sources=[
            SourceRefOut(id=r.id, title=r.title, url=r.url, kind=r.kind, user=r.user, comment=r.comment)
            for r in item.sources
        ],
    )
