"""Pure: an item's page, why it is here: each source and what it said, where each of its
fields came from, its bookmark-count history. Every value is escaped; the page shell is
``pages.page_head``'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo
from html import escape

from .identity import display_host
from .pages import page_head
from .paths import tag_path
from .sanitize import safe_url
from .views import Provenance


def render_item(prov: Provenance, zone: tzinfo | None = None) -> str:
    """Why an item is here: each source and what it said, its fields' origins, its bookmark counts."""
    item = prov.item
    names = {s.source.id: s.source.title for s in prov.sightings}

    def when(value: datetime | None) -> str:
        return f"{value.astimezone(zone):%Y-%m-%d %H:%M}" if value else "-"

    def tags(pairs: Iterable[tuple[str, str]]) -> str:
        return "".join(f'<a class="tag" href="/tag/{tag_path(n)}">{escape(d)}</a>' for n, d in pairs)

    def row(*cells: str) -> str:
        return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"

    link = safe_url(item.link)
    title = escape(item.title or item.link or "(untitled)")
    count = (
        f' · <span class="count">{item.bookmark_count} users</span>'
        if item.bookmark_count is not None
        else ""
    )
    parts = [
        page_head(f"Why is this here: {item.title or item.link or '(untitled)'}", [], item.language),
        '<p><a href="/">← all feeds</a></p>',
        f'<h1><a class="title" href="{escape(link)}">{title}</a></h1>' if link else f"<h1>{title}</h1>",
        f'<p class="meta">{item.published.astimezone(zone):%Y/%m/%d}'
        + (f" · {escape(display_host(item.site))}" if item.site else "")
        + f"{count}</p>",
        f'<div class="tags">{tags(zip(item.tag_names, item.tags, strict=False))}</div>',
        f"<h2>Sources ({len(prov.sightings)})</h2>",
        '<table class="sightings"><tr><th>source</th><th>kind</th><th>tags it gave</th><th>user</th>'
        "<th>comment</th><th>bookmarks</th><th>its date</th><th>first seen</th><th>last seen</th></tr>",
    ]
    for s in prov.sightings:
        url = safe_url(s.source.url)
        label = escape(s.source.title)
        name = (f'<a href="{escape(url)}">{label}</a>' if url else label) + (" (owner)" if s.owner else "")
        parts.append(
            row(
                name,
                escape(s.source.kind),
                tags(zip(s.tag_names, s.tags, strict=False)),
                escape(s.source.user or ""),
                escape(s.source.comment or ""),
                "" if s.bookmark_count is None else str(s.bookmark_count),
                when(s.said_at),
                when(s.first_seen),
                when(s.last_seen),
            )
        )
    parts.append(
        '</table><h2>Where each field came from</h2><table class="fields">'
        "<tr><th>field</th><th>rule</th><th>from</th><th>how</th></tr>"
    )
    for f in prov.fields:
        sources = ", ".join(escape(names.get(i, f"source {i}")) for i in f.sources) or "-"
        parts.append(row(escape(f.field), escape(f.rule), sources, escape(f.note)))
    parts.append("</table><h2>Bookmark history</h2>")
    if prov.history:
        parts.append('<table class="history"><tr><th>at</th><th>count</th><th>source</th></tr>')
        parts += [row(when(p.at), str(p.count), escape(p.source_title)) for p in prov.history]
        parts.append("</table>")
    else:
        parts.append("<p>No bookmark counts recorded.</p>")
    parts.append("</body></html>")
    return "".join(parts)
