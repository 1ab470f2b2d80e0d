"""Pure merge rules: which source's words an item keeps."""

from datetime import UTC, datetime

from aggregator.identity import hash_text
from aggregator.ingest import Existing, SourceInfo, merge_item, prepare_entries
from aggregator.parse import ParsedEntry, ParsedFeed

NOW = datetime(2026, 11, 24, tzinfo=UTC)
BLOG = SourceInfo(1, "feed")
SITE = SourceInfo(2, "site")
LINK_BLOG = SourceInfo(3, "feed")


def feed(link: str | None, *entries: ParsedEntry) -> ParsedFeed:
    return ParsedFeed("rss20", "t", link, None, False, entries, len(entries), (), "utf-8")


def entry(link: str, title: str, summary: str) -> ParsedEntry:
    return ParsedEntry(
        link=link,
        guid=None,
        title=title,
        summary=summary,
        content=None,
        author=None,
        published=datetime(2024, 1, 1, tzinfo=UTC),
        updated=None,
        tags=(),
        bookmark_count=None,
        image=None,
        enclosures=(),
        raw_hash=hash_text(link),
    )


def existing_from(row: dict[str, object]) -> Existing:
    fields = {"id": 1, **{k: v for k, v in row.items() if k in Existing.__dataclass_fields__}}
    return Existing(**fields)  # type: ignore[arg-type]


def test_a_feed_speaks_for_its_own_site_only() -> None:
    article = "https://deeeet.com/writing/2016/07/20/go-context/"
    [own] = prepare_entries(feed("https://deeeet.com/", entry(article, "Go1.7のcontext", "本文")), BLOG)
    [linked] = prepare_entries(
        feed("https://blog.nekonote.dev/", entry(article + "?utm_source=x", "紹介", "新メンバー向けに")),
        LINK_BLOG,
    )
    [hatena] = prepare_entries(
        feed("https://b.hatena.ne.jp/", entry(article, "Go1.7のcontext", "抜粋")), SITE
    )
    assert own.rank > hatena.rank > linked.rank

    first = merge_item(None, linked, LINK_BLOG, NOW)
    assert first is not None
    stored = existing_from(first)
    taken = merge_item(stored, hatena, SITE, NOW)
    assert taken is not None and taken["summary"] == "抜粋" and taken["owner_source_id"] == SITE.id
    # The link blog cannot take the words back.
    assert merge_item(existing_from({**first, **taken}), linked, LINK_BLOG, NOW) is None


def test_a_feed_without_a_site_link_keeps_its_rank() -> None:
    [item] = prepare_entries(feed(None, entry("https://example.org/a", "a", "s")), BLOG)
    assert item.rank == BLOG.rank


def test_a_bookmark_count_of_zero_is_not_rewritten() -> None:
    [item] = prepare_entries(feed(None, entry("https://example.org/z", "z", "s")), BLOG)
    zero = item.__class__(**{**item.__dict__, "bookmark_count": 0})
    first = merge_item(None, zero, BLOG, NOW)
    assert first is not None
    assert merge_item(existing_from(first), zero, BLOG, NOW) is None
