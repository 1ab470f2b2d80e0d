"""``/opml.xml``: the catalog of what this instance republishes, for subscribing in bulk.

Every public named output, everything, and the tag feeds (public tags) (the 1,000 most used tags), each as an
OPML 2.0 outline with its Atom URL, grouped by category (``outputs``, ``tags``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..opml import write_opml
from ..paths import tag_path
from ..store.slices import tag_counts
from .deps import SettingsDep, read_connection
from .schemas import ERRORS

CATALOG_TAGS = 1000
router = APIRouter()


@router.get("/opml.xml", responses=ERRORS, summary="Every named feed and tag feed, as OPML")
def catalog(request: Request, s: SettingsDep) -> Response:
    base = str(request.base_url).rstrip("/")
    with read_connection(s) as conn:
        tags = tag_counts(conn, limit=CATALOG_TAGS)
    outlines: list[tuple[str, str, str, tuple[str, ...]]] = [
        (f"{base}/feeds/all.atom", "Everything", "feed", ("outputs",))
    ]
    outlines += [(f"{base}/feeds/{o.slug}.atom", o.title, "feed", ("outputs",)) for o in s.public_outputs]
    outlines += [(f"{base}/feeds/tag/{tag_path(t.name)}.atom", t.display, "feed", ("tags",)) for t in tags]
    body = write_opml(outlines, title="aggregator: every feed", now=s.clock())
    return Response(
        body, media_type="text/x-opml; charset=utf-8", headers={"X-Content-Type-Options": "nosniff"}
    )
