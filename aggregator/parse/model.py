"""What parsing returns: ``ParsedFeed``, ``ParsedEntry``, ``ParsedEnclosure`` and ``Damage``.

Frozen dataclasses only, each field documented with what it may hold. How the
values are read and cleaned belongs to ``xmlfeed``, ``jsonfeed`` and
``entries``; storing them belongs to ``store``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

DamageKind = Literal["malformed", "truncated", "entities", "encoding", "cap", "skipped"]


@dataclass(frozen=True)
class ParsedEnclosure:
    url: str  # absolute http(s)
    type: str | None
    length: int | None  # bytes, as the feed claims


@dataclass(frozen=True)
class ParsedEntry:
    """One entry as the document states it; every string is already sanitized."""

    link: str | None  # absolute http(s) URL, relative ones resolved; None if missing or unsafe
    guid: str | None  # entry id / guid / JSON Feed id, at most 1000 characters
    title: str  # plain text, may be ""
    summary: str | None  # sanitized HTML
    content: str | None  # sanitized HTML; None for Hatena RSS (content:encoded is a widget)
    author: str | None  # plain text
    published: datetime | None  # aware UTC; the modification date when that is all there is
    updated: datetime | None  # aware UTC, only when the entry states it
    tags: tuple[str, ...]  # display forms in document order, deduplicated
    bookmark_count: int | None  # hatena:bookmarkcount
    image: str | None  # hatena:imageurl, media:thumbnail or JSON image / banner_image
    enclosures: tuple[ParsedEnclosure, ...]
    raw_hash: str  # sha256 of title, link, summary, content and published: identity of last resort


@dataclass(frozen=True)
class Damage:
    """A problem that lost or altered data; the feed was still read, and what survived is kept.

    Harmless notes (an encoding label overridden by the bytes, an unknown
    label ignored, a date in the future clamped) are ``ParsedFeed.warnings``
    only, never damage.
    """

    kind: DamageKind
    detail: str  # one line, e.g. "XML not well-formed at line 12: mismatched tag"


@dataclass(frozen=True)
class ParsedFeed:
    format: str  # feedparser's version ("rss20", "rss10", "atom10", ...), "json10" or "json11"
    title: str | None
    link: str | None
    ttl_minutes: int | None  # RSS <ttl>
    is_hatena: bool  # the Hatena namespace is declared
    entries: tuple[ParsedEntry, ...]  # at most max_entries, in document order
    total_entries: int  # entries in the document before truncation
    warnings: tuple[str, ...]  # problems recovered from, harmless ones included
    encoding: str | None  # the codec the document was decoded with
    language: str | None = None  # the feed's language tag (RSS language, xml:lang, JSON Feed), e.g. "ja"
    damage: tuple[Damage, ...] = ()  # what cost or altered data; empty for a clean parse

    @property
    def damage_summary(self) -> str | None:
        """One line for the source: what was wrong and how many entries were kept; None when clean."""
        if not self.damage:
            return None
        kept = len(self.entries)
        if kept == self.total_entries:
            outcome = f"recovered {_entries(kept)}"
        else:
            outcome = f"kept {kept} of {_entries(self.total_entries)}"
        return "; ".join([*(d.detail for d in self.damage), outcome])


def _entries(count: int) -> str:
    return f"{count} entry" if count == 1 else f"{count} entries"
