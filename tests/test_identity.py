import pytest

from aggregator.identity import canonical_link, fold_aliases, item_key, link_host, normalize_tag


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("HTTPS://Deeeet.COM/writing/2018/x/", "https://deeeet.com/writing/2018/x/"),
        ("https://deeeet.com/a?utm_source=feed&utm_medium=rss", "https://deeeet.com/a"),
        ("https://deeeet.com/a?id=3&utm_campaign=x&fbclid=1&gclid=2", "https://deeeet.com/a?id=3"),
        ("https://deeeet.com/a#section", "https://deeeet.com/a"),
        ("https://deeeet.com:443/a", "https://deeeet.com/a"),
        ("http://deeeet.com:8080/a", "http://deeeet.com:8080/a"),
        ("https://deeeet.com", "https://deeeet.com/"),
        ("https://deeeet.com/a?b=2&a=1", "https://deeeet.com/a?b=2&a=1"),
        ("https://ja.wikipedia.org/wiki/日本語", "https://ja.wikipedia.org/wiki/日本語"),
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
    assert item_key(None, "1", "h", 7) == "guid:7:1"
    assert item_key(None, "1", "h", 8) != item_key(None, "1", "h", 7)
    assert item_key(None, None, "abc", 7) == "hash:7:abc"


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
    assert link_host(None) is None
