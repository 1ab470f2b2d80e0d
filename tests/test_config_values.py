"""``config_values``: each validator takes what ``feeds.toml`` may hold and refuses the rest
with a message saying what was expected."""

from __future__ import annotations

import pytest

from aggregator import config_values as v


@pytest.mark.parametrize(
    ("check", "good", "expected"),
    [
        (v.duration, "30m", 1800),
        (v.duration, 90, 90),
        (v.optional_duration, None, None),
        (v.flag, True, True),
        (v.optional_flag, None, None),
        (v.workers, 0, 0),
        (v.http_url, " https://example.org/feed ", "https://example.org/feed"),
        (v.kind, "tag", "tag"),
        (v.text, "", ""),
        (v.tags, ["k8s", "go"], ("k8s", "go")),
        (v.timezone, "Asia/Tokyo", "Asia/Tokyo"),
        (v.version_interval, 0, 0.0),
    ],
)
def test_a_good_value_is_taken(check: object, good: object, expected: object) -> None:
    assert check(good) == expected  # type: ignore[operator]


@pytest.mark.parametrize(
    ("check", "bad", "says"),
    [
        (v.duration, "soon", "duration"),
        (v.duration, 400 * 86400, "out of range"),
        (v.flag, "yes", "true or false"),
        (v.workers, -1, "number of processes"),
        (v.http_url, "ftp://example.org/", "http(s) URL"),
        (v.kind, "blog", "one of site, tag, user, feed"),
        (v.text, 3, "a string"),
        (v.tags, ["ok", " "], "non-empty strings"),
        (v.aliases, {"k8s": 1}, "string to a string"),
        (v.timezone, "Mars/Olympus", "unknown time zone"),
        (v.version_interval, 61, "0 to 60"),
        (v.version_interval, True, "0 to 60"),
    ],
)
def test_a_bad_value_says_what_was_expected(check: object, bad: object, says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("(", r"\(").replace(")", r"\)")):
        check(bad)  # type: ignore[operator]
