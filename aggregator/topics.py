"""One feed as its URL asks for it, with no web framework: the slice a feed path names
(``/feeds/all``, ``/feeds/tag/{tag}``, ``/feeds/site/{host}``, ``/feeds/{slug}``), the filter
its query adds, and ``FeedView``, which names, titles, links and renders that feed.

The feed routes and the WebSub hub both go through here, so a subscriber receives the
bytes and ETag a GET of the topic URL gets. ``topic_view`` maps an absolute feed URL on
this server to its ``FeedView``; ``rendered_topic`` renders one from the items of its slice.
Selecting those items belongs to storage, answering requests to the API.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from .config import Config, OutputConfig
from .errors import NotFoundError, QueryError
from .feedcache import newest_update, slice_etag
from .filters import PARAMS, Filter, parse_filter, parse_site
from .identity import display_host, normalize_tag
from .pages import ITEM_PAGES
from .paging import Cursor, page_links, take_cursor
from .paths import tag_path
from .render import FORMATS, MEDIA_TYPES, render_feed
from .views import FeedLink, FeedMeta, ItemView

MAX_PATH_VALUE = 200
MAX_TOPIC_CHARS = 2048
HUB_PATH = "/websub"
WINDOW = ("since", "until", "filter")  # relative windows (date:7d too) are named as written in the feed id


@dataclass(frozen=True)
class Slice:
    """A route's implied filter and the words that title it."""

    route: Filter
    title: str
    description: str
    base: str  # path without extension, e.g. /feeds/tag/kubernetes
    html: str  # the matching HTML listing


ALL = Slice(Filter(), "Everything", "Every item, newest first", "/feeds/all", "/")


def tag_slice(config: Config, raw: str) -> Slice:
    name = normalize_tag(check_path_value("tag", raw), config.aliases)
    if not name:
        raise QueryError("tag", "empty tag")
    base = f"/feeds/tag/{tag_path(name)}"
    return Slice(
        Filter(tags=(name,)), f"Tagged “{name}”", f"Every item tagged {name}", base, f"/tag/{tag_path(name)}"
    )


def site_slice(raw: str) -> Slice:
    host = parse_site(check_path_value("host", raw), "host")
    return Slice(
        Filter(sites=(host,)),
        f"On {display_host(host)}",
        f"Every item on {display_host(host)} and its subdomains",
        f"/feeds/site/{host}",
        f"/site/{host}",
    )


def output_slice(config: Config, output: OutputConfig, now: datetime) -> Slice:
    route = parse_filter(output.filters, aliases=config.aliases, now=now)
    return Slice(route, output.title, output.description or route.describe(), f"/feeds/{output.slug}", "/")


def named_slice(config: Config, slug: str, now: datetime) -> Slice:
    """The slice of the public named output ``slug`` (a private output is no topic of the hub).

    Raises:
        NotFoundError: no public output has that slug.
    """
    output = next((o for o in config.outputs if o.slug == slug), None)
    if output is None or output.private:
        raise NotFoundError(f"no feed named {slug[:60]!r}")
    return output_slice(config, output, now)


def check_params(params: Mapping[str, list[str]]) -> None:
    if len(params) > len(PARAMS) + 2:  # and a feed's ``ext`` and ``before``
        raise QueryError("query", "too many parameters")


def parse_switch(name: str, values: list[str] | None) -> bool:
    """An on/off query parameter: absent or ``0`` is off, ``1`` is on.

    Raises:
        QueryError: any other value, or the parameter given twice.
    """
    if not values:
        return False
    if len(values) > 1 or values[0] not in ("0", "1"):
        raise QueryError(name, "must be 0 or 1, given once")
    return values[0] == "1"


def resolve(config: Config, sl: Slice, params: dict[str, list[str]], now: datetime) -> tuple[Filter, str]:
    """The route's filter merged with the query's, and the title of the result."""
    query = parse_filter(params, aliases=config.aliases, now=now)
    narrowed = query.with_limit(sl.route.limit).describe()
    title = sl.title if narrowed == Filter().describe() else f"{sl.title}, {narrowed}"
    return sl.route.merge(query), title


def check_path_value(name: str, value: str) -> str:
    if not value or len(value) > MAX_PATH_VALUE:
        raise QueryError(name, f"must be 1 to {MAX_PATH_VALUE} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value) or ".." in value or "/" in value or "\\" in value:
        raise QueryError(name, "contains characters not allowed in a path segment")
    return value


@dataclass(frozen=True)
class FeedView:
    """One feed as a URL asks for it: what it names, titles and links, and how it renders."""

    ext: str
    slice: Slice
    filter: Filter
    heading: str
    extensions: bool
    self_url: str  # the URL as the client sent it, query included
    base_url: str  # scheme and host of this server, no trailing slash
    window: str  # since/until as written, for the feed id
    hub: bool = True  # advertise the WebSub hub ([websub] enabled)
    cursor: Cursor | None = None  # a page after the first: the items older than this
    private: bool = False  # a private output's feed, read with its token: no hub, its own cache entries

    @property
    def page_filter(self) -> Filter:
        """What to read for this page: one item more than it shows, so it knows whether ``next`` exists."""
        return self.filter.with_limit(self.filter.limit + 1)

    @property
    def title(self) -> str:
        return f"{self.heading} — aggregator"

    @property
    def cache_key(self) -> str:
        flt = self.filter.canonical()
        own = f"{self.ext} {self.slice.base} {flt} ext={int(self.extensions)} {self.self_url}"
        return own + " private=1" if self.private else own

    @property
    def feed_id(self) -> str:
        """Stable per URL: a relative window such as ``since=7d`` or ``filter=date:7d`` is named as
        written, not as resolved now."""
        unwindowed = replace(self.filter, since=None, until=None, expr=None).canonical()
        named = f"{self.ext} {self.slice.base} {unwindowed} {self.window}"
        return "urn:aggregator:feed:" + hashlib.sha256(named.encode()).hexdigest()[:32]

    @property
    def hub_url(self) -> str:
        return self.base_url + HUB_PATH

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.ext]

    @property
    def link_header(self) -> str:
        """The ``Link`` header of this feed: its hub and itself (WebSub discovery)."""
        own = f'<{self.self_url}>; rel="self"'
        return f'<{self.hub_url}>; rel="hub", {own}' if self.hub else own

    def meta(self, items: Sequence[ItemView], links: tuple[FeedLink, ...] = ()) -> FeedMeta:
        hub = (FeedLink("hub", self.hub_url),) if self.hub else ()
        return FeedMeta(
            title=self.title,
            subtitle=self.slice.description,
            self_url=self.self_url,
            html_url=self.base_url + self.slice.html,
            feed_id=self.feed_id,
            updated=newest_update(items),
            links=hub + links,
            item_pages=self.base_url + ITEM_PAGES,
        )

    def render(self, found: Sequence[ItemView], more: tuple[FeedLink, ...] = ()) -> bytes:
        """The page from ``found`` (read with ``page_filter``), with ``more`` links read elsewhere."""
        items, links = page_links(self.self_url, self.filter, found, self.cursor)
        return render_feed(self.ext, self.meta(items, links + more), items, extensions=self.extensions)

    def etag_title(self, more: tuple[FeedLink, ...] = ()) -> str:
        """The title as the ETag sees it: with the links read elsewhere, which the items do not decide."""
        return self.title + "".join(f"\n{link.rel} {link.href}" for link in more)

    def etag(self, found: Sequence[ItemView], more: tuple[FeedLink, ...] = ()) -> str:
        return slice_etag(self.ext, self.cache_key, self.etag_title(more), found)


def feed_view(
    config: Config,
    ext: str,
    sl: Slice,
    params: dict[str, list[str]],
    *,
    self_url: str,
    base_url: str,
    now: datetime,
    private: bool = False,
) -> FeedView:
    """The feed ``self_url`` names: ``sl`` in format ``ext``, narrowed by the query ``params``.

    Raises:
        NotFoundError: an unknown format.
        QueryError: a query parameter that is not valid.
    """
    if ext not in FORMATS:
        raise NotFoundError(f"unknown feed format {ext[:20]!r}: use .atom, .rss or .json")
    check_params(params)
    window = urlencode([(k, v) for k, values in params.items() if k in WINDOW for v in values])
    rest = dict(params)
    extensions = parse_switch("ext", rest.pop("ext", None))
    cursor = take_cursor(rest)
    flt, heading = resolve(config, sl, rest, now)
    base = base_url.rstrip("/")
    hub = config.websub.enabled and not private
    return FeedView(ext, sl, flt, heading, extensions, self_url, base, window, hub, cursor, private)


def topic_view(config: Config, topic: str, base_url: str, now: datetime) -> FeedView:
    """The feed a WebSub topic names: one of this server's feed URLs (``base_url``), any query.

    Raises:
        QueryError: not a feed URL on this server, or a path or query value that is not valid.
        NotFoundError: an unknown named output or format.
    """
    if len(topic) > MAX_TOPIC_CHARS:
        raise QueryError("hub.topic", f"longer than {MAX_TOPIC_CHARS} characters")
    try:
        parts, ours = urlsplit(topic), urlsplit(base_url)
    except ValueError:
        raise QueryError("hub.topic", "not a URL") from None
    if (parts.scheme, parts.netloc.lower()) != (ours.scheme, ours.netloc.lower()) or parts.fragment:
        raise QueryError("hub.topic", f"not a feed of this server ({ours.scheme}://{ours.netloc})")
    stem, dot, ext = parts.path.rpartition(".")
    segments = stem.split("/")
    if not dot or len(segments) < 3 or segments[:2] != ["", "feeds"]:
        raise QueryError("hub.topic", "not a feed URL: expected /feeds/…/{name}.atom, .rss or .json")
    values = [unquote(s) for s in segments[2:]]
    if values == ["all"]:
        sl = ALL
    elif len(values) == 2 and values[0] == "tag":
        sl = tag_slice(config, values[1])
    elif len(values) == 2 and values[0] == "site":
        sl = site_slice(values[1])
    elif len(values) == 1:
        sl = named_slice(config, values[0], now)
    else:
        raise QueryError("hub.topic", "not a feed URL: expected /feeds/…/{name}.atom, .rss or .json")
    params: dict[str, list[str]] = {}
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, max_num_fields=len(PARAMS) * 4)
    except ValueError:
        raise QueryError("hub.topic", "too many query parameters") from None
    for key, value in pairs:
        params.setdefault(key, []).append(value)
    base = f"{ours.scheme}://{ours.netloc}"
    return feed_view(config, ext, sl, params, self_url=topic, base_url=base, now=now)


@dataclass(frozen=True)
class RenderedTopic:
    """A topic as a GET of its URL would answer it now."""

    etag: str
    body: bytes
    media_type: str
    link_header: str


def rendered_topic(view: FeedView, items: Sequence[ItemView]) -> RenderedTopic:
    return RenderedTopic(view.etag(items), view.render(items), view.media_type, view.link_header)
