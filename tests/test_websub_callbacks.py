"""websub.callbacks: requests to a subscriber's callback are bounded and guarded like fetches,
against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from feedserver import FeedServer, Response, endless_body, stall

from aggregator.topics import RenderedTopic
from aggregator.websub.callbacks import MAX_REPLY_BYTES, Callbacks, Reply, signature

TOPIC = RenderedTopic('"e"', b"<feed/>", "application/atom+xml; charset=utf-8", "<https://h/websub>; rel=hub")


def call(url: str, *, allow_private: bool = True, timeout: float = 5.0, verify: bool = True) -> Reply:
    async def run() -> Reply:
        async with Callbacks(timeout=timeout, allow_private=allow_private, concurrency=2) as callbacks:
            if verify:
                return await callbacks.verify(url, {"hub.challenge": "c"})
            return await callbacks.deliver(url, TOPIC, "key")

    return asyncio.run(run())


def test_the_signature_is_the_hmac_sha256_of_the_body() -> None:
    assert signature("key", b"body") == "sha256=" + hmac.new(b"key", b"body", hashlib.sha256).hexdigest()


def test_verification_keeps_the_callback_query(srv: FeedServer) -> None:
    srv.route("/cb?id=7&hub.challenge=c", b"c")
    reply = call(srv.url("/cb?id=7"))
    assert (reply.status, reply.body) == (200, b"c")


def test_a_redirect_is_not_followed(srv: FeedServer) -> None:
    srv.redirect("/cb", srv.url("/elsewhere"))
    reply = call(srv.url("/cb"), verify=False)
    assert reply.status == 302 and not reply.is_success
    assert srv.count("/elsewhere") == 0


def test_a_callback_that_never_answers_times_out(srv: FeedServer) -> None:
    srv.raw("/cb", stall(30))
    reply = call(srv.url("/cb"), timeout=0.3)
    assert reply.status is None and reply.error == "no answer within 0.3s"


def test_only_the_start_of_a_long_reply_is_read(srv: FeedServer) -> None:
    srv.raw("/cb", endless_body())
    reply = call(srv.url("/cb"), timeout=2)
    assert reply.status == 200 and len(reply.body) == MAX_REPLY_BYTES


def test_a_loopback_callback_is_refused_without_the_allow_setting(srv: FeedServer) -> None:
    srv.reply("/cb", Response(204))
    reply = call(srv.url("/cb"), allow_private=False, verify=False)
    assert reply.status is None and "not allowed" in (reply.error or "")
    assert srv.count("/cb") == 0
