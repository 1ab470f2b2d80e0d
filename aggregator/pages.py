"""Pure: the HTML pages (index, tag and site listings; an item's page, why it is here, is
``itempage``'s). Every value is escaped here; each listed item links to its page (``item_page``).

Pages carry no script; the server sends them with a strict Content-Security-Policy.
Item summaries are shown as plain-text excerpts, never as markup. Dates are shown in the
display zone passed in (None: the server's local zone); ``lang`` comes from the feeds'
declared languages, and is left out when they do not agree or declared none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from html import escape
from urllib.parse import urlencode

from .config import OutputConfig
from .filters import PARAMS
from .identity import display_host
from .paths import tag_path
from .sanitize import excerpt, safe_url
from .sorts import DEFAULT_WINDOW, SORTS, Sort, window_text
from .views import ItemView, SourceView, TagCount

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' https: http:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
ITEM_PAGES = "/item/"  # an item's page is this and its id
STYLE = """
body{font-family:system-ui,-apple-system,"Hiragino Sans","Noto Sans JP",sans-serif;max-width:52rem;
margin:2rem auto;padding:0 1rem;color:#222;line-height:1.55}
a{color:#0a58ca}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
ul.items{list-style:none;padding:0}ul.items li{border-bottom:1px solid #e5e5e5;padding:.8rem 0}
.title{font-weight:600;font-size:1.05rem}.meta,.who{color:#666;font-size:.85rem}
.tag{display:inline-block;background:#eef3fb;border-radius:.3rem;padding:0 .4rem;margin:.1rem;font-size:.8rem}
.count{color:#d63384;font-weight:600}.feeds a{margin-right:.6rem}.err{color:#b02a37}.warn{color:#8a5a00}
table{border-collapse:collapse;font-size:.85rem}
.growth{color:#198754}nav.sorts a{margin-right:.8rem}
nav.sorts a[aria-current]{font-weight:700;color:#222;text-decoration:none}
td,th{padding:.2rem .6rem;border-bottom:1px solid #eee;text-align:left}
"""


@dataclass(frozen=True)
class FeedLinks:
    title: str
    base: str  # e.g. /feeds/tag/kubernetes
    query: str = ""  # the listing's own filters, so its feeds hold what it shows

    def urls(self) -> list[tuple[str, str, str]]:
        tail = f"?{self.query}" if self.query else ""
        return [
            ("Atom", "application/atom+xml", f"{self.base}.atom{tail}"),
            ("RSS", "application/rss+xml", f"{self.base}.rss{tail}"),
            ("JSON Feed", "application/feed+json", f"{self.base}.json{tail}"),
        ]


@dataclass(frozen=True)
class SortTabs:
    """The orders a page offers (recent, popular, rising), the one shown, and the page's other parameters."""

    path: str  # the page, e.g. /tag/kubernetes
    query: tuple[tuple[str, str], ...] = ()  # its query string as pairs; sort and window are replaced
    sort: Sort = "recent"
    window: int = DEFAULT_WINDOW

    def href(self, sort: Sort) -> str:
        kept = [(k, v) for k, v in self.query if k not in ("sort", "window", "cursor")]
        if sort != "recent":
            kept.append(("sort", sort))
        if sort == "rising" and self.window != DEFAULT_WINDOW:
            kept.append(("window", window_text(self.window)))
        return self.path + (f"?{urlencode(kept)}" if kept else "")

    def html(self) -> str:
        labels = {"recent": "Recent", "popular": "Popular", "rising": f"Rising ({window_text(self.window)})"}
        links = [
            f'<a href="{escape(self.href(sort))}"'
            + (' aria-current="page"' if sort == self.sort else "")
            + f">{escape(labels[sort])}</a>"
            for sort in SORTS
        ]
        return '<nav class="sorts">' + "".join(links) + "</nav>"

    def count_html(self, item: ItemView) -> str:
        """``455 users``, and in the rising order ``(+120 in 24h)``."""
        if item.bookmark_count is None:
            return ""
        growth = (
            f' <span class="growth">(+{item.growth} in {window_text(self.window)})</span>'
            if item.growth is not None
            else ""
        )
        return f' <span class="count">{item.bookmark_count} users</span>{growth}'


def common_language(languages: Iterable[str | None]) -> str | None:
    """The one language every item or source declared, or None (none declared, or several)."""
    found = {lang.casefold() if lang else None for lang in languages}
    if len(found) != 1 or None in found:
        return None
    (only,) = found
    return only


def page_head(title: str, feeds: Sequence[FeedLinks], lang: str | None = None) -> str:
    links = "".join(
        f'<link rel="alternate" type="{t}" title="{escape(f.title)} ({label})" href="{escape(u)}">'
        for f in feeds
        for label, t, u in f.urls()
    )
    return (
        f'<!doctype html><html{_lang_attribute(lang)}><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="/static/style.css">{links}</head><body>'
    )


def _lang_attribute(lang: str | None) -> str:
    return f' lang="{escape(lang)}"' if lang else ""


def _feed_buttons(feed: FeedLinks) -> str:
    return (
        '<p class="feeds">Subscribe: '
        + "".join(f'<a href="{escape(u)}" type="{t}">{label}</a>' for label, t, u in feed.urls())
        + "</p>"
    )


def render_index(
    outputs: Sequence[OutputConfig],
    tags: Sequence[TagCount],
    sources: Sequence[SourceView],
    total: int,
    zone: tzinfo | None = None,
    listing: tuple[SortTabs, Sequence[ItemView]] | None = None,
) -> str:
    """The index; with ``listing``, the newest (or most bookmarked, or rising) items under their tabs."""
    sources = [s for s in sources if not s.removed]
    feeds = [FeedLinks("Everything", "/feeds/all")] + [
        FeedLinks(o.title, f"/feeds/{o.slug}") for o in outputs
    ]
    parts = [
        page_head("aggregator", feeds, common_language(s.feed_language for s in sources)),
        "<h1>aggregator</h1>",
        f"<p>{total} items from {len(sources)} sources. Every feed below accepts the filters "
        + ", ".join(f"<code>{p}</code>" for p in PARAMS)
        + ' (<a href="/docs">API docs</a>).</p>',
    ]
    if listing is not None:
        tabs, items = listing
        parts += ["<h2>Items</h2>", tabs.html(), '<ul class="items">']
        parts += [_headline_html(item, tabs, zone) for item in items]
        parts.append("</ul>")
    parts.append("<h2>Feeds</h2><ul>")
    for feed in feeds:
        parts.append(
            f"<li>{escape(feed.title)}: "
            + " ".join(f'<a href="{escape(u)}">{label}</a>' for label, _, u in feed.urls())
            + "</li>"
        )
    parts.append("</ul><h2>Tags</h2><p>")
    for tag in tags:
        parts.append(
            f'<a class="tag" href="/tag/{tag_path(tag.name)}">{escape(tag.display)} ({tag.count})</a> '
        )
    parts.append(
        "</p><h2>Sources</h2><table><tr><th>source</th><th>kind</th><th>items</th>"
        "<th>status</th><th>next poll</th></tr>"
    )
    for s in sources:
        status = escape(s.last_status or "never polled")
        if s.last_error:
            status += f' <span class="err">[{escape(str(s.error_category))}] {escape(s.last_error)}</span>'
        if s.last_warning:
            status += f' <span class="warn">warning: {escape(s.last_warning)}</span>'
        nxt = s.next_poll_at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if s.next_poll_at else "-"
        parts.append(
            f'<tr><td><a href="{escape(s.url)}">{escape(s.label)}</a> '
            f'(<a href="/feeds/all.atom?source={s.id}">feed</a>)</td><td>{escape(s.kind)}</td>'
            f"<td>{s.items}</td><td>{status}</td><td>{nxt}</td></tr>"
        )
    parts.append("</table></body></html>")
    return "".join(parts)


def render_listing(
    heading: str,
    feed: FeedLinks,
    items: Sequence[ItemView],
    zone: tzinfo | None = None,
    tabs: SortTabs | None = None,
) -> str:
    """A listing like a bookmark service's page: title, excerpt, tags, count, date, who bookmarked;
    with ``tabs``, links to the same listing in the other orders."""
    lang = common_language(item.language for item in items)
    shown = tabs or SortTabs(feed.base)
    parts = [
        page_head(heading, [feed], lang),
        '<p><a href="/">← all feeds</a></p>',
        f"<h1>{escape(heading)}</h1>",
        _feed_buttons(feed),
        tabs.html() if tabs else "",
        f"<p>{len(items)} items</p>",
        '<ul class="items">',
    ]
    for item in items:
        parts.append(_item_html(item, zone, "" if lang else _lang_attribute(item.language), shown))
    parts.append("</ul></body></html>")
    return "".join(parts)


def _headline_html(item: ItemView, tabs: SortTabs, zone: tzinfo | None) -> str:
    """One line of the index's listing: title, count (and growth), date, host."""
    site = f" · {escape(display_host(item.site))}" if item.site else ""
    return (
        f"<li>{_title_html(item)}{tabs.count_html(item)}"
        f'<div class="meta">{item.published.astimezone(zone):%Y/%m/%d}{site}</div></li>'
    )


def _title_html(item: ItemView) -> str:
    link = safe_url(item.link)
    title = escape(item.title or item.link or "(untitled)")
    return (
        f'<a class="title" href="{escape(link)}">{title}</a>'
        if link
        else f'<span class="title">{title}</span>'
    )


def _item_html(item: ItemView, zone: tzinfo | None, lang: str, tabs: SortTabs) -> str:
    head = _title_html(item)
    count = tabs.count_html(item)
    text = excerpt(item.summary or item.content, limit=300)
    tags = "".join(
        f'<a class="tag" href="/tag/{tag_path(name)}">{escape(display)}</a>'
        for name, display in zip(item.tag_names, item.tags, strict=False)
    )
    site = (
        f' · <a href="/site/{escape(item.site)}">{escape(display_host(item.site))}</a>' if item.site else ""
    )
    why = f' · <a class="why" href="{item_page(item.id)}">why is this here</a>'
    meta = f"{item.published.astimezone(zone):%Y/%m/%d}{site}{why}"
    who = "".join(
        f'<div class="who">{escape(ref.user)} {ref.seen.astimezone(zone):%Y/%m/%d}'
        + (f": {escape(ref.comment)}" if ref.comment else "")
        + "</div>"
        for ref in item.sources
        if ref.user and ref.seen
    )
    return (
        f'<li{lang}>{head}{count}<div class="meta">{meta}</div>'
        + (f"<p>{escape(text)}</p>" if text else "")
        + f"<div>{tags}</div>{who}</li>"
    )


def item_page(item_id: int) -> str:
    """The path of an item's page: its sources, where its fields came from, its bookmark history."""
    return f"{ITEM_PAGES}{int(item_id)}"


def render_error(status: int, message: str) -> str:
    return (
        page_head(f"{status}", [])
        + f'<h1>{status}</h1><p>{escape(message)}</p><p><a href="/">home</a></p></body></html>'
    )
