import pytest

from aggregator.filters import parse_site
from aggregator.identity import (
    canonical_link,
    entry_identity,
    fold_aliases,
    item_key,
    legacy_key,
    link_host,
    normalize_tag,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("HTTPS://Deeeet.COM/writing/2018/x/", "https://deeeet.com/writing/2018/x/"),
        ("https://deeeet.com/a?utm_source=feed&utm_medium=rss", "https://deeeet.com/a"),
        ("https://deeeet.com/a?id=3&utm_campaign=x&fbclid=1&gclid=2", "https://deeeet.com/a?id=3"),
        ("https://deeeet.com:443/a", "https://deeeet.com/a"),
        ("http://deeeet.com:8080/a", "http://deeeet.com:8080/a"),
        ("https://deeeet.com./a", "https://deeeet.com/a"),
        ("https://deeeet.com", "https://deeeet.com/"),
        ("https://deeeet.com/a?b=2&a=1", "https://deeeet.com/a?b=2&a=1"),
        ("https://ja.wikipedia.org/wiki/日本語", "https://ja.wikipedia.org/wiki/日本語"),
        # the Unicode and the punycode spelling of a host are one host
        ("https://例え.jp/a", "https://xn--r8jz45g.jp/a"),
        ("https://XN--R8JZ45G.jp./a", "https://xn--r8jz45g.jp/a"),
        # fragments that tell entries apart stay
        ("http://d.hatena.ne.jp/sample/20040820#p1", "http://d.hatena.ne.jp/sample/20040820#p1"),
        ("http://scripting.com/2017/06/26.html#a080605", "http://scripting.com/2017/06/26.html#a080605"),
        ("http://example.com/x#When:6:56:02PM", "http://example.com/x#When:6:56:02PM"),
        ("https://blog.example/post#comment-12", "https://blog.example/post#comment-12"),
        # fragments that only point into a page, or track, go
        ("https://deeeet.com/a?utm_source=feed#top", "https://deeeet.com/a"),
        ("https://deeeet.com/a#comments", "https://deeeet.com/a"),
        ("https://deeeet.com/a#more-123", "https://deeeet.com/a"),
        ("https://deeeet.com/a#:~:text=grpc", "https://deeeet.com/a"),
        ("https://deeeet.com/a#utm_source=x", "https://deeeet.com/a"),
        ("https://deeeet.com/a#.VbCd12", "https://deeeet.com/a"),
        ("https://deeeet.com/a#", "https://deeeet.com/a"),
        ("javascript:alert(1)", None),
        ("ftp://example.com/x", None),
        ("", None),
        (None, None),
        ("https://[::1", None),
    ],
)
def test_canonical_link(given: str | None, expected: str | None) -> None:
    assert canonical_link(given) == expected


def test_item_key_prefers_link_then_scoped_guid_then_hash() -> None:
    assert item_key("http://deeeet.com/a?utm_source=x", "g", "h", 1) == "https://deeeet.com/a"
    assert item_key("https://deeeet.com/a", "g", "h", 1) == "https://deeeet.com/a"
    assert item_key("http://d.hatena.ne.jp/s/1#p2", None, "h", 1) == "https://d.hatena.ne.jp/s/1#p2"
    assert item_key(None, "1", "h", 7) == "guid:7:1"
    assert item_key(None, "1", "h", 8) != item_key(None, "1", "h", 7)
    assert item_key(None, None, "abc", 7) == "hash:7:abc"


def test_legacy_key_is_the_earlier_rule() -> None:
    assert legacy_key("http://d.hatena.ne.jp/s/1#p2", None, "h", 1) == "https://d.hatena.ne.jp/s/1"
    assert legacy_key("https://例え.jp/a#x", None, "h", 1) == "https://例え.jp/a"
    assert legacy_key(None, "g", "h", 3) == "guid:3:g"


def test_entry_identity_is_id_else_link_else_title_else_content() -> None:
    assert entry_identity("g", "https://a/", "t", "h") == "id:g"
    assert entry_identity(None, "https://a/", "t", "h") == "link:https://a/"
    assert entry_identity(None, None, "t", "h") == "title:t"
    assert entry_identity(None, None, "", "h") == "hash:h"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Kubernetes", "kubernetes"),
        ("  KUBERNETES ", "kubernetes"),
        ("Ｋｕｂｅｒｎｅｔｅｓ", "kubernetes"),
        ("k8s", "kubernetes"),
        ("K8S", "kubernetes"),
        ("機械学習", "機械学習"),
        ("ｶﾀｶﾅ", "カタカナ"),
        ("Machine   Learning", "machine learning"),
        ("Straße", "strasse"),
        ("", ""),
    ],
)
def test_normalize_tag(given: str, expected: str) -> None:
    aliases = fold_aliases({"K8s": "Kubernetes"})
    assert normalize_tag(given, aliases) == expected


def test_link_host() -> None:
    assert link_host("https://Blog.Deeeet.com./x") == "blog.deeeet.com"
    assert link_host("https://例え.jp/x") == "xn--r8jz45g.jp"
    assert link_host(None) is None


@pytest.mark.parametrize("typed", ["例え.jp", "xn--r8jz45g.jp", "XN--R8JZ45G.JP.", "www.例え.jp"])
def test_site_filter_spellings_of_one_host_are_one_host(typed: str) -> None:
    assert parse_site(typed) == "xn--r8jz45g.jp"


def test_site_keys_put_a_host_and_its_subdomains_in_one_range() -> None:
    from aggregator.identity import site_key, site_key_range

    low, high = site_key_range("deeeet.com")
    assert (low, high) == ("com.deeeet.", "com.deeeet/")
    inside = [site_key(h) or "" for h in ("deeeet.com", "blog.deeeet.com", "a.b.deeeet.com")]
    outside = [site_key(h) or "" for h in ("deeeet.co", "xdeeeet.com", "deeeet.com.au", "deeeet2.com", "com")]
    assert all(low <= k < high for k in inside)
    assert not any(low <= k < high for k in outside)
    assert site_key(None) is None and site_key("") is None
