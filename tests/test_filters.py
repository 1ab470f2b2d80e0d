from datetime import UTC, datetime, timedelta

import pytest

from aggregator.errors import QueryError
from aggregator.filters import MAX_LIMIT, Filter, parse_filter

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ALIASES = {"k8s": "kubernetes"}


def parse(**params: object) -> Filter:
    return parse_filter(params, aliases=ALIASES, now=NOW)  # type: ignore[arg-type]


def test_tags_are_normalized_and_deduplicated() -> None:
    flt = parse(tag=["Kubernetes", "k8s", "ＧＯＬＡＮＧ"], not_tag=["Docker"])
    assert flt.tags == ("kubernetes", "golang")
    assert flt.not_tags == ("docker",)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("12h", NOW - timedelta(hours=12)),
        ("2w", NOW - timedelta(weeks=2)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T12:30:00Z", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01T21:30:00+09:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
    ],
)
def test_since_accepts_dates_and_ages(value: str, expected: datetime) -> None:
    assert parse(since=value).since == expected


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "abc"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": str(10**9)}, "limit"),
        ({"limit": str(MAX_LIMIT + 1)}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2024-13-45"}, "until"),
        ({"min_bookmarks": "many"}, "min_bookmarks"),
        ({"tag": "x" * 101}, "tag"),
        ({"q": "x" * 201}, "q"),
        ({"tag": ["a"] * 21}, "tag"),
        ({"site": "not a host"}, "site"),
        ({"site": "../etc"}, "site"),
        ({"source": "file:///etc/passwd"}, "source"),
        ({"tags": "kubernetes"}, "tags"),
        ({"limit": ["1", "2"]}, "limit"),
        ({"tag": "a\x00b"}, "tag"),
        ({"tag": "   "}, "tag"),
        ({"limit": "５"}, "limit"),
        ({"since": "١d"}, "since"),
    ],
)
def test_bad_parameters_name_the_parameter(params: dict[str, object], param: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(**params)
    assert info.value.param == param


def test_limit_bounds_and_default() -> None:
    assert parse().limit == 50
    assert parse(limit="500").limit == 500
    assert parse(limit="1").limit == 1


def test_merge_combines_route_and_query() -> None:
    route = parse(site="deeeet.com", min_bookmarks="50", limit="20")
    query = parse(tag="kubernetes", min_bookmarks="250")
    merged = route.merge(query)
    assert merged.sites == ("deeeet.com",)
    assert merged.tags == ("kubernetes",)
    assert merged.min_bookmarks == 250
    assert merged.limit == 20  # the query did not set one
    assert route.merge(parse(limit="5")).limit == 5


def test_canonical_is_order_independent() -> None:
    a = parse(tag=["golang", "kubernetes"], not_tag="docker")
    b = parse(not_tag="docker", tag=["kubernetes", "golang"])
    assert a.canonical() == b.canonical()
    assert a.canonical() != parse(tag="golang").canonical()


def test_site_strips_www_and_case() -> None:
    assert parse(site="WWW.Deeeet.com").sites == ("deeeet.com",)


def test_contradictory_filter_is_an_empty_slice() -> None:
    assert parse(tag="docker", not_tag="docker").is_empty_slice()
    assert not parse(tag="golang", not_tag="docker").is_empty_slice()


def test_sort_and_window_name_the_slice_and_merge_like_the_other_parameters() -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    plain = parse_filter({}, now=now)
    assert (plain.sort, plain.window, plain.as_of) == ("recent", 86400, now)
    assert "sort" not in plain.canonical() and plain.describe() == "everything"
    rising = parse_filter({"sort": "rising", "window": "6h"}, now=now)
    assert rising.canonical() == "limit=50&sort=rising&window=6h"
    assert rising.describe() == "rising in 6h"
    popular = parse_filter(
        {"sort": "popular", "window": "6h"}, now=now
    )  # no window in a popular slice's name
    assert popular.canonical() == "limit=50&sort=popular" and popular.describe() == "most bookmarked first"
    route = parse_filter({"tag": "go", "sort": "rising", "window": "6h"}, now=now)
    assert route.merge(parse_filter({}, now=now)) == route
    assert (
        route.merge(parse_filter({"window": "2d"}, now=now)).canonical()
        == "tag=go&limit=50&sort=rising&window=2d"
    )
    assert route.merge(parse_filter({"sort": "recent"}, now=now)).sort == "recent"
