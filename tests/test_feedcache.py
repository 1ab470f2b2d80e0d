"""Conditional requests and the rendered-slice cache, without HTTP or a database."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest

from aggregator.feedcache import (
    EPOCH,
    Rendered,
    SliceCache,
    http_date,
    is_not_modified,
    newest_update,
    slice_etag,
)
from aggregator.views import ItemView

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
ETAG = '"0123abcd"'
ENTRY = Rendered(etag=ETAG, last_modified=T0, body=b"<feed/>", data_version=1)
LM = "Wed, 01 May 2024 12:00:00 GMT"


def item(ident: int, *, version: int = 1, updated: datetime = T0) -> ItemView:
    return ItemView(
        id=ident,
        key=f"https://example.org/{ident}",
        link=f"https://example.org/{ident}",
        title=f"item {ident}",
        summary=None,
        content=None,
        author=None,
        published=updated,
        updated=updated,
        first_seen=updated,
        site="example.org",
        bookmark_count=None,
        image=None,
        version=version,
    )


# -- is_not_modified -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        ETAG,
        f"W/{ETAG}",
        f'"other", {ETAG}',
        f'"a","b",{ETAG}',
        f'  "a" ,  W/{ETAG}  ',
        "*",
        '"a", *',
    ],
)
def test_if_none_match_matches(header: str) -> None:
    assert is_not_modified(header, None, ENTRY)


@pytest.mark.parametrize(
    "header",
    [
        '"other"',
        '"0123abc"',
        '"0123abcd',
        "0123abcd",
        'W/"x", "y"',
        "",
        ",",
        ETAG.upper(),
    ],
)
def test_if_none_match_does_not_match(header: str) -> None:
    assert not is_not_modified(header, None, ENTRY)


@pytest.mark.parametrize(
    "header",
    [
        LM,
        "Wed, 01 May 2024 12:00:01 GMT",
        "Thu, 02 May 2024 00:00:00 GMT",
        "Wednesday, 01-May-24 12:00:00 GMT",
        "Wed May  1 12:00:00 2024",
        "Wed, 01 May 2024 21:00:00 +0900",
    ],
)
def test_if_modified_since_at_or_after_last_modified(header: str) -> None:
    assert is_not_modified(None, header, ENTRY)


@pytest.mark.parametrize(
    "header",
    [
        "Wed, 01 May 2024 11:59:59 GMT",
        "Wed, 01 May 2024 20:59:59 +0900",
        "yesterday",
        "",
        "Mon, 32 Foo 2024 00:00:00 GMT",
        "0",
    ],
)
def test_if_modified_since_before_or_unreadable(header: str) -> None:
    assert not is_not_modified(None, header, ENTRY)


def test_if_none_match_takes_precedence_over_if_modified_since() -> None:
    assert not is_not_modified('"other"', LM, ENTRY)
    assert is_not_modified(ETAG, "Mon, 01 Jan 2001 00:00:00 GMT", ENTRY)
    assert is_not_modified(ETAG, "garbage", ENTRY)


def test_no_validators_means_modified() -> None:
    assert not is_not_modified(None, None, ENTRY)


# -- validators ----------------------------------------------------------------------------------


def test_slice_etag_is_strong_and_tracks_what_the_feed_shows() -> None:
    items = [item(1), item(2)]
    etag = slice_etag("atom", "k", "title", items)
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert '"' not in etag[1:-1]
    assert etag == slice_etag("atom", "k", "title", [item(1), item(2)])
    variants = [
        slice_etag("rss", "k", "title", items),
        slice_etag("atom", "k2", "title", items),
        slice_etag("atom", "k", "title 2", items),
        slice_etag("atom", "k", "title", [item(1)]),
        slice_etag("atom", "k", "title", [item(2), item(1)]),
        slice_etag("atom", "k", "title", [item(1), item(2, version=2)]),
        slice_etag("atom", "k", "title", [item(1), item(3)]),
        slice_etag("atom", "k", "title", []),
    ]
    assert len({etag, *variants}) == len(variants) + 1


def test_newest_update_and_http_date() -> None:
    assert newest_update([]) == EPOCH
    late = T0 + timedelta(hours=1, microseconds=999_999)
    assert newest_update([item(1), item(2, updated=late)]) == T0 + timedelta(hours=1)
    assert http_date(T0) == LM
    tokyo = T0.astimezone(timezone(timedelta(hours=9)))
    assert http_date(tokyo) == LM
    assert parsedate_to_datetime(http_date(T0)) == T0


# -- SliceCache ----------------------------------------------------------------------------------


class Source:
    """What the cache loads and renders, counting every call."""

    def __init__(self, items: Sequence[ItemView]) -> None:
        self.items = list(items)
        self.title = "title"
        self.loads = 0
        self.renders = 0

    def load(self) -> tuple[str, Sequence[ItemView]]:
        self.loads += 1
        return self.title, list(self.items)

    def render(self, items: Sequence[ItemView]) -> bytes:
        self.renders += 1
        return f"{self.title}:{[(i.id, i.version) for i in items]}".encode()

    def get(self, cache: SliceCache, version: int, key: str = "atom /feeds/all") -> Rendered:
        return cache.get(key, version, self.load, self.render, "atom")


def test_same_data_version_is_a_hit() -> None:
    cache, src = SliceCache(), Source([item(1)])
    first = src.get(cache, 1)
    assert (src.loads, src.renders, cache.renders, cache.hits) == (1, 1, 1, 0)
    for _ in range(3):
        assert src.get(cache, 1) is first
    assert (src.loads, src.renders, cache.renders, cache.hits) == (1, 1, 1, 3)
    assert first.etag == slice_etag("atom", "atom /feeds/all", "title", [item(1)])
    assert first.last_modified == T0 and first.data_version == 1


def test_new_version_with_the_same_slice_revalidates_without_rendering() -> None:
    cache, src = SliceCache(), Source([item(1), item(2)])
    first = src.get(cache, 1)
    second = src.get(cache, 2)
    assert src.loads == 2 and src.renders == 1 and cache.renders == 1
    assert second.body is first.body
    assert (second.etag, second.last_modified, second.data_version) == (first.etag, first.last_modified, 2)
    assert src.get(cache, 2) is second
    assert src.loads == 2


@pytest.mark.parametrize(
    "change",
    ["new item", "new version", "item left", "title"],
)
def test_new_version_with_a_changed_slice_renders_again(change: str) -> None:
    cache, src = SliceCache(), Source([item(1), item(2)])
    first = src.get(cache, 1)
    if change == "new item":
        src.items.insert(0, item(3, updated=T0 + timedelta(days=1)))
    elif change == "new version":
        src.items[1] = item(2, version=2)
    elif change == "item left":
        src.items.pop()
    else:
        src.title = "renamed"
    second = src.get(cache, 2)
    assert cache.renders == 2 and src.renders == 2
    assert second.etag != first.etag and second.body != first.body
    assert second.data_version == 2
    assert second.last_modified > first.last_modified
    assert is_not_modified(None, http_date(first.last_modified), first)
    assert not is_not_modified(None, http_date(first.last_modified), second)
    assert not is_not_modified(first.etag, None, second)


def test_an_older_item_joining_moves_last_modified() -> None:
    cache, src = SliceCache(), Source([item(1, updated=T0)])
    first = src.get(cache, 1)
    src.items.append(item(2, updated=T0 - timedelta(days=300)))
    second = src.get(cache, 2)
    assert second.etag != first.etag
    assert second.last_modified > first.last_modified
    src.items.append(item(3, updated=T0 + timedelta(days=2)))
    third = src.get(cache, 3)
    assert third.last_modified == T0 + timedelta(days=2)


def test_an_empty_slice_is_cached_with_the_epoch() -> None:
    cache, src = SliceCache(), Source([])
    entry = src.get(cache, 1)
    assert entry.last_modified == EPOCH
    assert src.get(cache, 2).body is entry.body
    assert src.renders == 1


def test_keys_are_independent() -> None:
    cache, a, b = SliceCache(), Source([item(1)]), Source([item(2)])
    ea = a.get(cache, 1, "a")
    eb = b.get(cache, 1, "b")
    assert ea.etag != eb.etag
    assert a.get(cache, 1, "a") is ea and b.get(cache, 1, "b") is eb
    assert (a.loads, b.loads) == (1, 1)


def test_lru_bound_evicts_the_least_recently_used() -> None:
    cache, src = SliceCache(size=2), Source([item(1)])
    src.get(cache, 1, "k1")
    src.get(cache, 1, "k2")
    src.get(cache, 1, "k1")  # k1 is now the most recently used
    assert src.loads == 2
    src.get(cache, 1, "k3")  # evicts k2
    assert src.loads == 3
    src.get(cache, 1, "k1")
    src.get(cache, 1, "k3")
    assert src.loads == 3
    src.get(cache, 1, "k2")
    assert src.loads == 4
    assert len(cache._entries) == 2


def test_many_keys_stay_within_the_bound() -> None:
    cache, src = SliceCache(size=16), Source([item(1)])
    for n in range(200):
        src.get(cache, 1, f"k{n}")
    assert len(cache._entries) == 16
    before = src.loads
    for n in range(184, 200):
        src.get(cache, 1, f"k{n}")
    assert src.loads == before


def test_concurrent_requests_agree() -> None:
    cache, src = SliceCache(), Source([item(1), item(2)])
    results: list[Rendered] = []
    lock = threading.Lock()

    def worker() -> None:
        for version in (1, 1, 2, 2):
            entry = src.get(cache, version)
            with lock:
                results.append(entry)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.etag for r in results}) == 1
    assert len({r.body for r in results}) == 1
