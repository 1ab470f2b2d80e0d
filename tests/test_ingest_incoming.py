"""Pure: a parsed feed as Incoming records (ranks, users' comments, repeats of one entry)."""

from datetime import UTC, datetime

from test_store import entry as store_entry

from aggregator.ingest import SourceInfo, prepare_entries
from aggregator.parse import ParsedEntry, ParsedFeed

BLOG = SourceInfo(1, "feed")
SITE = SourceInfo(2, "site")
LINK_BLOG = SourceInfo(3, "feed")
USER = SourceInfo(4, "user")
DAY = datetime(2024, 1, 1, tzinfo=UTC)


def feed(link: str | None, *entries: ParsedEntry) -> ParsedFeed:
    return ParsedFeed("rss20", "t", link, None, False, entries, len(entries), (), "utf-8")


def entry(
    link: str, title: str, summary: str, *, guid: str | None = None, tags: tuple[str, ...] = ()
) -> ParsedEntry:
    """One entry by "someone", dated 2024-01-01 (``test_store.entry``, the shared builder)."""
    return store_entry(link, title, DAY, summary=summary, author="someone", guid=guid, tags=tags)


ARTICLE = "https://deeeet.com/writing/2016/07/20/go-context/"


def test_a_feed_speaks_for_its_own_site_only() -> None:
    [own] = prepare_entries(feed("https://deeeet.com/", entry(ARTICLE, "Go1.7のcontext", "本文")), BLOG)
    [linked] = prepare_entries(feed("https://blog.nekonote.dev/", entry(ARTICLE, "紹介", "…")), LINK_BLOG)
    [hatena] = prepare_entries(
        feed("https://b.hatena.ne.jp/", entry(ARTICLE, "Go1.7のcontext", "抜粋")), SITE
    )
    assert own.rank > hatena.rank > linked.rank


def test_a_feed_without_a_site_link_keeps_its_rank() -> None:
    [item] = prepare_entries(feed(None, entry("https://example.org/a", "a", "s")), BLOG)
    assert item.rank == BLOG.rank


def test_a_user_feeds_description_is_the_users_comment() -> None:
    [item] = prepare_entries(feed(None, entry(ARTICLE, "t", "なるほど")), USER)
    assert (item.comment, item.summary, item.user, item.author) == ("なるほど", None, "someone", None)


def test_repeats_of_one_entry_are_one_record_with_both_tags() -> None:
    doc = feed(
        None,
        entry(ARTICLE, "a", "s", guid="g", tags=("Go",)),
        entry(ARTICLE + "?moved", "a", "s", guid="g", tags=("context",)),
    )
    [item] = prepare_entries(doc, BLOG)
    assert [name for name, _ in item.tags] == ["go", "context"]


def test_entries_sharing_a_page_in_one_document_are_marked_split() -> None:
    doc = feed(
        None,
        entry(ARTICLE + "#p1", "1", "s"),
        entry(ARTICLE + "#p2", "2", "s"),
        entry(ARTICLE + "x", "3", "s"),
    )
    assert [i.split for i in prepare_entries(doc, BLOG)] == [True, True, False]
