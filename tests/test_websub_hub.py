"""The WebSub hub end to end, on SQLite and PostgreSQL: the API on 127.0.0.1 takes subscriptions,
the hub's worker verifies them with a real subscriber, and a poll that changes a topic delivers
it, signed, exactly as a GET of the topic serves it. The clock is the test's: backoff and lease
expiry come from moving it, never from waiting."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import replace

import feedparser
import pytest
from feedserver import FeedServer
from websubsite import HubSite, Subscriber, hub_site


@pytest.fixture
def site(db_url: str, srv: FeedServer) -> HubSite:
    with hub_site(db_url, srv) as s:
        yield s


@pytest.fixture
def subscriber(srv: FeedServer) -> Subscriber:
    return Subscriber(srv)


def subscribed(site: HubSite, subscriber: Subscriber, topic: str, **form: str) -> None:
    assert site.subscribe(topic, subscriber.url, **form).status_code == 202
    assert site.push().verified == 1


def test_a_subscription_is_verified_by_the_worker_with_the_challenge_echoed(
    site: HubSite, subscriber: Subscriber
) -> None:
    topic = site.topic("/feeds/all.atom?limit=5")
    answer = site.subscribe(topic, subscriber.url, lease_seconds="86400")
    assert answer.status_code == 202
    assert subscriber.verifications() == []  # asked later, by the worker, never in the request
    assert site.push().verified == 1
    [asked] = subscriber.verifications()
    assert asked["hub.mode"] == "subscribe"
    assert asked["hub.topic"] == topic
    assert asked["hub.lease_seconds"] == "86400"
    assert len(asked["hub.challenge"]) >= 32
    [row] = site.rows()
    assert row["active"] and row["expires_at"] == site.clock.now.replace(day=2)


def test_a_callback_that_does_not_echo_the_challenge_stays_unverified(
    site: HubSite, subscriber: Subscriber
) -> None:
    subscriber.echo = False
    assert site.subscribe(site.topic(), subscriber.url).status_code == 202
    report = site.push()
    assert (report.verified, report.refused) == (0, 1)
    assert site.rows() == []
    site.publish("second")
    site.poll()
    assert subscriber.deliveries() == []


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("http://elsewhere.example/feeds/all.atom", 422, "not a feed of this server"),
        ("/items.json", 422, "not a feed URL"),
        ("/feeds/all.xml", 404, "unknown feed format"),
        ("/feeds/nothing-here.atom", 404, "no feed named"),
        ("/feeds/all.atom?limit=zero", 422, "expected a whole number"),
        ("/feeds/tag/a%2F..%2Fb.atom", 422, "not allowed in a path segment"),
    ],
)
def test_a_topic_that_is_not_one_of_our_feeds_is_refused_with_a_reason(
    site: HubSite, subscriber: Subscriber, path: str, status: int, reason: str
) -> None:
    topic = path if path.startswith("http") else site.topic(path)
    answer = site.subscribe(topic, subscriber.url)
    assert answer.status_code == status
    assert reason in answer.json()["message"]
    assert site.rows() == []


@pytest.mark.parametrize(
    ("form", "param"),
    [
        ({"callback": "ftp://127.0.0.1/x"}, "hub.callback"),
        ({"callback": "http://user:pw@127.0.0.1/x"}, "hub.callback"),
        ({"lease_seconds": "5"}, "hub.lease_seconds"),
        ({"lease_seconds": "-1"}, "hub.lease_seconds"),
        ({"secret": "s" * 200}, "hub.secret"),
        ({"mode": "publish"}, "hub.mode"),
    ],
)
def test_invalid_parameters_are_refused(
    site: HubSite, subscriber: Subscriber, form: dict[str, str], param: str
) -> None:
    fields = {"mode": "subscribe", "topic": site.topic(), "callback": subscriber.url, **form}
    answer = site.post(**fields)
    assert answer.status_code == 422
    assert answer.json()["parameter"] == param
    assert site.rows() == []


def test_a_private_callback_is_refused_unless_the_hub_allows_it(db_url: str, srv: FeedServer) -> None:
    subscriber = Subscriber(srv)
    with hub_site(db_url, srv, allow_private_networks=False) as site:
        answer = site.subscribe(site.topic(), subscriber.url)
        assert answer.status_code == 422
        assert "private" in answer.json()["message"]
        # A name that resolves only to loopback passes the form, and the worker's guard refuses it.
        named = subscriber.url.replace("127.0.0.1", "localhost")
        assert site.subscribe(site.topic(), named).status_code == 202
        assert site.push().refused == 1
    assert subscriber.verifications() == []


def test_a_changed_topic_is_delivered_once_signed_as_a_get_serves_it(
    site: HubSite, subscriber: Subscriber
) -> None:
    topics = [
        site.topic("/feeds/all.atom"),
        site.topic("/feeds/news.json?limit=5"),
        site.topic("/feeds/all.rss"),
    ]
    secret = "a secret only the subscriber and the hub know"
    for topic in topics[:2]:
        subscribed(site, subscriber, topic, secret=secret)
    subscribed(site, subscriber, topics[2])  # no secret: no signature
    site.poll()  # nothing changed: nothing is sent
    assert subscriber.deliveries() == []

    site.publish("second")
    site.poll()
    received = {r.header("link").split("<")[2].split(">")[0]: r for r in subscriber.deliveries()}
    assert sorted(received) == sorted(topics) and len(subscriber.deliveries()) == 3
    for topic, delivery in received.items():
        served = site.get(topic)
        assert delivery.body == served.content
        assert delivery.header("content-type") == served.headers["content-type"]
        assert delivery.header("link") == f'<{site.base}/websub>; rel="hub", <{topic}>; rel="self"'
        assert delivery.header("link") == served.headers["link"]
        if topic == topics[2]:
            assert delivery.header("x-hub-signature") is None
        else:
            expected = hmac.new(secret.encode(), served.content, hashlib.sha256).hexdigest()
            assert delivery.header("x-hub-signature") == f"sha256={expected}"
    assert "second" in received[topics[0]].body.decode()

    site.poll()  # polled again, unchanged: nothing more
    assert len(subscriber.deliveries()) == 3


def test_an_unsubscribed_callback_gets_nothing_more(site: HubSite, subscriber: Subscriber) -> None:
    topic = site.topic()
    subscribed(site, subscriber, topic)
    answer = site.post(mode="unsubscribe", topic=topic, callback=subscriber.url)
    assert answer.status_code == 202
    assert site.push().verified == 1
    assert subscriber.verifications()[-1]["hub.mode"] == "unsubscribe"
    assert site.rows() == []
    site.publish("second")
    site.poll()
    assert subscriber.deliveries() == []


def test_a_failed_delivery_is_retried_with_backoff_then_dropped(db_url: str, srv: FeedServer) -> None:
    subscriber = Subscriber(srv, status=500)
    with hub_site(db_url, srv, max_attempts=3, retry_delay=60) as site:
        subscribed(site, subscriber, site.topic())
        site.publish("second")
        site.poll()
        assert len(subscriber.deliveries()) == 1
        assert site.rows()[0]["next_attempt_at"] == site.clock.now.replace(minute=1)
        site.clock.move(seconds=59)
        assert site.push().failed == 0  # not due yet
        site.clock.move(seconds=1)
        assert site.push().failed == 1  # after 60 s
        assert len(subscriber.deliveries()) == 2
        site.clock.move(seconds=119)
        site.push()
        assert len(subscriber.deliveries()) == 2  # then 120 s
        site.clock.move(seconds=1)
        assert site.push().dropped == 1  # the third failure spends the budget
        assert site.rows() == []
        site.clock.move(days=1)
        site.publish("third")
        site.poll()
        assert len(subscriber.deliveries()) == 3


def test_a_retry_that_succeeds_delivers_the_topic_as_it_is_then(db_url: str, srv: FeedServer) -> None:
    subscriber = Subscriber(srv, status=503)
    with hub_site(db_url, srv) as site:
        subscribed(site, subscriber, site.topic())
        site.publish("second")
        site.poll()
        subscriber.status = 200
        site.publish("third")
        site.poll()  # the retry is not due: the poll's run sends nothing
        assert len(subscriber.deliveries()) == 1
        site.clock.move(seconds=60)
        assert site.push().delivered == 1
        assert b"third" in subscriber.deliveries()[-1].body
        site.clock.move(days=1)
        assert site.push().delivered == 0


def test_an_expired_lease_gets_nothing_and_is_removed(site: HubSite, subscriber: Subscriber) -> None:
    subscribed(site, subscriber, site.topic(), lease_seconds="3600")
    site.clock.move(seconds=3600)
    site.publish("second")
    site.poll()
    assert len(subscriber.deliveries()) == 1  # at its expiry instant, still live
    site.clock.move(seconds=1)
    site.publish("third")
    site.poll()
    assert len(subscriber.deliveries()) == 1
    assert site.rows() == []


def test_a_subscription_renewed_keeps_what_it_was_sent(site: HubSite, subscriber: Subscriber) -> None:
    topic = site.topic()
    subscribed(site, subscriber, topic, lease_seconds="3600")
    site.publish("second")
    site.poll()
    site.clock.move(seconds=1800)
    subscribed(site, subscriber, topic, lease_seconds="7200")
    site.push()
    assert len(subscriber.deliveries()) == 1  # renewing is not a change
    site.clock.move(seconds=3600)  # past the first lease, within the renewed one
    site.publish("third")
    site.poll()
    assert len(subscriber.deliveries()) == 2


# --------------------------------------------------------------------------- discovery


@pytest.mark.parametrize("ext", ["atom", "rss", "json"])
def test_every_feed_names_its_hub_and_itself(site: HubSite, ext: str) -> None:
    url = site.topic(f"/feeds/all.{ext}?limit=3")
    hub = site.base + "/websub"
    first = site.get(url)
    again = site.get(url)  # answered from the recorded answer
    unchanged = site.get(url, **{"If-None-Match": first.headers["etag"]})
    assert unchanged.status_code == 304
    for answer in (first, again, unchanged):
        assert answer.headers["link"] == f'<{hub}>; rel="hub", <{url}>; rel="self"'
    if ext == "json":
        document = json.loads(first.content)
        assert document["hubs"] == [{"type": "WebSub", "url": hub}]
        assert document["feed_url"] == url
    else:
        links = feedparser.parse(first.content).feed.links
        assert {(link["rel"], link["href"]) for link in links} >= {("hub", hub), ("self", url)}


def test_a_hub_that_is_off_is_neither_named_nor_answering(db_url: str, srv: FeedServer) -> None:
    with hub_site(db_url, srv, enabled=False) as site:
        answer = site.get(site.topic())
        assert "websub" not in answer.text and 'rel="hub"' not in answer.headers["link"]
        assert site.subscribe(site.topic(), srv.url("/callback")).status_code == 404


def test_a_topic_that_names_no_feed_any_more_is_dropped(site: HubSite, subscriber: Subscriber) -> None:
    subscribed(site, subscriber, site.topic("/feeds/news.atom"))
    site.config = replace(site.config, outputs=())  # the named output left the configuration
    site.publish("second")
    site.poll()
    assert subscriber.deliveries() == []
    assert site.rows() == []


def test_the_secret_is_never_logged(
    site: HubSite, subscriber: Subscriber, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aggregator")
    secret = "do-not-log-this-secret"
    subscribed(site, subscriber, site.topic(), secret=secret)
    subscriber.status = 500
    site.publish("second")
    site.poll()
    assert subscriber.deliveries()[0].header("x-hub-signature")
    assert "delivery to" in caplog.text  # the failure was logged, without the secret
    assert secret not in caplog.text
