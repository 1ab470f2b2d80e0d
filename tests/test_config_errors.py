"""``config_errors``: a validation error as one line naming the section, the entry and the key."""

from __future__ import annotations

from typing import Any

import pytest

from aggregator.config import parse_config
from aggregator.errors import ConfigError


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"sources": [{"url": "https://a.example/", "kind": "blog"}]},
            "[[sources]] entry 1 (https://a.example/): key 'kind'",
        ),
        ({"sources": "x"}, "[[sources]] must be an array of tables"),
        ({"sources": ["x"]}, "[[sources]] entry 1: must be a table"),
        ({"poller": {"concurency": 3}}, "unknown key 'concurency'"),
        ({"colour": 1}, "unknown key 'colour'"),
        (
            {"outputs": [{"slug": "k8s", "min_bookmarks": -1}]},
            "[[outputs]] entry 1 (k8s): min_bookmarks:",
        ),
    ],
)
def test_a_bad_value_is_named_by_section_entry_and_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    text = str(caught.value)
    assert message in text and "\n" not in text
