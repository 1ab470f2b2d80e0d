"""The archive route (RFC 5005 section 4): ``/feeds/{slug}/archive/{key}.{ext}``,
one month of a named output's items by the time they were first stored, in
every format. An archive document is marked ``fh:archive`` and links
``current`` (the output's feed), ``prev-archive`` and ``next-archive``; it
changes only when an item in it does, so it may be cached for long. The months
belong to ``aggregator.archives``; the subscription document's link to the
newest archive to ``routes_feeds``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ..archives import Chain, Month
from ..errors import NotFoundError, QueryError
from ..feedcache import Rendered, newest_update
from ..render import FORMATS, MEDIA_TYPES, render_feed
from ..store.archives import select_first_seen
from ..topics import feed_view
from ..views import FeedLink, FeedMeta, ItemView
from .archives import archive_url, has_archives, read_chain
from .deps import SettingsDep, read_connection
from .routes_feeds import feed_answer, request_url
from .schemas import ERRORS
from .slices import output_slice

ARCHIVE_MAX_AGE = 86400
ARCHIVE_CACHE_CONTROL = f"public, max-age={ARCHIVE_MAX_AGE}"

router = APIRouter()


@router.get("/feeds/{slug}/archive/{key}.{ext}", responses=ERRORS, summary="A month of a named output")
async def feed_archive(slug: str, key: str, ext: str, request: Request, s: SettingsDep) -> Response:
    output = s.outputs.get(slug)
    if output is None or not has_archives(s, output):
        raise NotFoundError(f"no archived feed named {slug[:60]!r}")
    if ext not in FORMATS:
        raise NotFoundError(f"unknown feed format {ext[:20]!r}: use .atom, .rss or .json")
    for name in request.query_params:
        raise QueryError(name[:40], "an archive takes no parameters")
    month = Month.parse(key)
    current = Month.of(s.clock())
    if month is None or month >= current:
        raise NotFoundError(f"no archive {key[:20]!r}: archives are months (YYYY-MM) that have ended")
    sl = output_slice(s, output)
    self_url = request_url(request)
    base, now = str(request.base_url), s.clock()
    # The newest archive gains its next-archive link when the following month ends: another document.
    newest = month.next() == current
    cache_key = f"archive {ext} {slug} {month.key} newest={int(newest)} {self_url}"
    version = s.versions.fresh()
    if version is None:
        version = await run_in_threadpool(s.versions.read)
    entry = s.cache.peek(cache_key, version)
    if entry is None:
        title = f"{output.title}, first seen in {month.key} — aggregator"
        make_meta = partial(
            FeedMeta,
            title=title,
            subtitle=output.description or sl.route.describe(),
            self_url=self_url,
            html_url=str(request.base_url).rstrip("/") + sl.html,
            feed_id=feed_view(s.config, ext, sl, {}, self_url=self_url, base_url=base, now=now).feed_id,
            archive=True,
        )

        def load(links: tuple[FeedLink, ...]) -> tuple[str, Sequence[ItemView]]:
            with read_connection(s) as conn:
                found = select_first_seen(conn, sl.route, month.start, month.end)
            return title + "".join(f"\n{link.rel} {link.href}" for link in links), found

        def render(links: tuple[FeedLink, ...], items: Sequence[ItemView]) -> bytes:
            # A month without items was last updated when it ended, not at the epoch.
            meta = make_meta(updated=newest_update(items) if items else month.end, links=links)
            return render_feed(ext, meta, items)

        def build() -> Rendered:
            with read_connection(s) as conn:
                chain = read_chain(conn, sl.route, current)
            if not chain.has(month):
                raise NotFoundError(f"no archive {month.key}: the feed has no items that old")
            links = chain_links(chain, month, request, slug, ext)
            return s.cache.get(cache_key, version, partial(load, links), partial(render, links), ext)

        entry = await run_in_threadpool(build)
    return feed_answer(s, request, entry, MEDIA_TYPES[ext], ARCHIVE_CACHE_CONTROL, None)


def chain_links(chain: Chain, month: Month, request: Request, slug: str, ext: str) -> tuple[FeedLink, ...]:
    """An archive's links: ``current`` to the output's feed, and its neighbours in the chain."""
    base = str(request.base_url).rstrip("/")
    links = [FeedLink("current", f"{base}/feeds/{slug}.{ext}")]
    older, newer = chain.before(month), chain.after(month)
    if older is not None:
        links.append(FeedLink("prev-archive", archive_url(request, slug, older, ext)))
    if newer is not None:
        links.append(FeedLink("next-archive", archive_url(request, slug, newer, ext)))
    return tuple(links)
