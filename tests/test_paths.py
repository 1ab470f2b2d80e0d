"""``paths``: a tag is one path segment, whatever it holds."""

from urllib.parse import unquote

import pytest

from aggregator.paths import tag_path


@pytest.mark.parametrize(
    ("tag", "segment"),
    [
        ("kubernetes", "kubernetes"),
        ("c++", "c%2B%2B"),
        ("ci/cd", "ci%2Fcd"),
        ("a b", "a%20b"),
        ("what?#", "what%3F%23"),
        ("機械学習", "%E6%A9%9F%E6%A2%B0%E5%AD%A6%E7%BF%92"),
        ("..", ".."),
    ],
)
def test_tag_path(tag: str, segment: str) -> None:
    assert tag_path(tag) == segment
    assert "/" not in segment and unquote(segment) == tag
