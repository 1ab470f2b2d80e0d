"""websub.intents: a subscription form read into an ``Intent``, every parameter checked."""

from __future__ import annotations

import pytest

from aggregator.config import WebSubConfig
from aggregator.errors import QueryError
from aggregator.websub.intents import Intent, check_callback, parse_intent

HUB = WebSubConfig(min_lease=3600, default_lease=86400, max_lease=7 * 86400)
TOPIC = "https://feeds.example/feeds/all.atom"
CALLBACK = "https://subscriber.example/cb?id=7"


def form(**fields: str) -> list[tuple[str, str]]:
    base = {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.callback": CALLBACK}
    return list({**base, **{f"hub.{k}": v for k, v in fields.items()}}.items())


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, Intent("subscribe", TOPIC, CALLBACK, 86400, None)),
        ({"lease_seconds": "3600"}, Intent("subscribe", TOPIC, CALLBACK, 3600, None)),
        ({"lease_seconds": "604800", "secret": "s3"}, Intent("subscribe", TOPIC, CALLBACK, 604800, "s3")),
        ({"mode": "unsubscribe", "secret": ""}, Intent("unsubscribe", TOPIC, CALLBACK, 86400, None)),
        ({"secret": "é" * 99}, Intent("subscribe", TOPIC, CALLBACK, 86400, "é" * 99)),  # 198 bytes
    ],
)
def test_a_valid_form_is_read(fields: dict[str, str], expected: Intent) -> None:
    assert parse_intent(form(**fields), HUB) == expected


@pytest.mark.parametrize(
    ("pairs", "param", "message"),
    [
        (form(mode="publish"), "hub.mode", "subscribe or unsubscribe"),
        ([("hub.mode", "subscribe"), ("hub.callback", CALLBACK)], "hub.topic", "required"),
        (form(callback=""), "hub.callback", "required"),
        (form(lease_seconds="3599"), "hub.lease_seconds", "from 3600 to 604800"),
        (form(lease_seconds="604801"), "hub.lease_seconds", "from 3600 to 604800"),
        (form(lease_seconds="1e4"), "hub.lease_seconds", "whole number"),
        (form(lease_seconds="99999999999"), "hub.lease_seconds", "whole number"),
        (form(secret="é" * 100), "hub.secret", "under 200 bytes"),
        ([*form(), ("hub.topic", TOPIC)], "hub.topic", "more than once"),
        ([*form(), ("hub.verify", "sync")], "hub.verify", "not a parameter"),
    ],
)
def test_an_invalid_form_names_the_parameter(pairs: list[tuple[str, str]], param: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_intent(pairs, HUB)
    assert caught.value.param == param
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://subscriber.example/cb", "http or https"),
        ("/relative/cb", "http or https"),
        ("https://user:pw@subscriber.example/cb", "no credentials"),
        ("https://subscriber.example/cb#frag", "no fragment"),
        ("https://subscriber.example/c b", "no spaces"),
        ("https://subscriber.example/" + "a" * 2048, "2048 characters"),
        ("http://127.0.0.1:8080/cb", "private"),
        ("http://[::1]/cb", "private"),
        ("http://10.1.2.3/cb", "private"),
        ("http://0x7f000001/cb", "private"),
        ("http://169.254.169.254/latest", "private"),
    ],
)
def test_a_callback_that_is_not_allowed_is_refused(url: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        check_callback(url, allow_private=False)
    assert message in caught.value.message


def test_a_private_callback_is_allowed_when_the_hub_allows_it() -> None:
    assert check_callback("http://127.0.0.1:8080/cb", allow_private=True) == "http://127.0.0.1:8080/cb"
