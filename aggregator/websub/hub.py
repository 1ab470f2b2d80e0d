"""``Hub``: the worker that verifies intents and distributes content, once (``run_once``: after
a poll run, or ``aggregator push``) or until stopped (``run_loop``: ``aggregator push --loop``).

A run ends the subscriptions whose lease ran out, then claims the subscriptions that wait for
something (``store.websub``), a batch at a time: an intent is verified with a GET carrying a
fresh challenge, which the callback must echo with a 2xx; an active subscription whose topic
now renders with another ETag than the one it was last sent gets the topic's document, POSTed
as a GET of the topic would answer it (``topics``). A failed delivery is tried again after a
delay that doubles each time, up to ``max_attempts``; then the subscription is dropped.
Nothing is marked sent before the subscriber answered 2xx, so a worker killed mid-delivery
leaves the delivery to the next run once its claim has run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine

from ..clock import Clock, utcnow
from ..config import Config
from ..errors import NotFoundError, QueryError
from ..store import websub as store
from ..store.common import connect
from ..store.slices import select_slice
from ..topics import RenderedTopic, rendered_topic, topic_view
from .callbacks import Callbacks

log = logging.getLogger("aggregator.websub")
OWNER_HOST_CHARS = 40


def worker_owner() -> str:
    """A claim owner unique to this process and worker, fitting the 64-character owner column."""
    return f"{socket.gethostname()[:OWNER_HOST_CHARS]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class HubReport:
    """What one run did."""

    verified: int = 0
    refused: int = 0
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    expired: int = 0

    def summary(self) -> str:
        return "websub: " + ", ".join(f"{getattr(self, f.name)} {f.name}" for f in fields(self))

    @property
    def did_anything(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


def retry_delay(failures: int, first: float, most: float) -> float:
    """Seconds before the next attempt after ``failures`` failures in a row: doubling from ``first``."""
    return float(min(first * 2 ** min(failures - 1, 40), most))


class Hub:
    """Verifies intents and delivers changed topics to their subscribers."""

    def __init__(self, engine: Engine, config: Config, *, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.config = config
        self.settings = config.websub
        self.clock = clock
        self.owner = worker_owner()

    async def run_once(self) -> HubReport:
        """Verify every intent waiting and deliver every changed topic that is due."""
        report = HubReport()
        if not self.settings.enabled:
            return report
        report.expired = await asyncio.to_thread(store.remove_expired, self.engine, self.clock())
        handled: set[int] = set()
        s = self.settings
        async with Callbacks(
            timeout=s.timeout, allow_private=s.allow_private_networks, concurrency=s.concurrency
        ) as c:
            try:
                while True:
                    now = self.clock()
                    rows = await asyncio.to_thread(
                        store.claim,
                        self.engine,
                        self.owner,
                        now,
                        s.claim_ttl,
                        limit=s.concurrency,
                        skip=handled,
                    )
                    if not rows:
                        break
                    handled.update(row.id for row in rows)
                    run = _Batch(self, c, report, now)
                    await asyncio.gather(*(run.handle(row) for row in rows))
            finally:
                await asyncio.to_thread(store.release, self.engine, self.owner)
        if report.did_anything:
            log.info("%s", report.summary())
        return report

    async def run_loop(self, stop: asyncio.Event, *, interval: float = 5.0) -> int:
        """Run every ``interval`` seconds until ``stop`` is set; how many runs did anything."""
        busy = 0
        while not stop.is_set():
            busy += (await self.run_once()).did_anything
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
        return busy

    def render(self, topic: str, now: datetime) -> RenderedTopic | None:
        """The topic as a GET of its URL answers now; None when it names no feed any more."""
        parts = urlsplit(topic)
        try:
            view = topic_view(self.config, topic, f"{parts.scheme}://{parts.netloc}", now)
        except (QueryError, NotFoundError):
            return None
        with connect(self.engine) as conn:
            items = select_slice(conn, view.page_filter, after=view.cursor)
        return rendered_topic(view, items)


class _Batch:
    """One claimed batch: each topic rendered once, each subscription verified or delivered to."""

    def __init__(self, hub: Hub, callbacks: Callbacks, report: HubReport, now: datetime) -> None:
        self.hub = hub
        self.callbacks = callbacks
        self.report = report
        self.now = now
        self.topics: dict[str, asyncio.Future[RenderedTopic | None]] = {}

    async def topic(self, url: str) -> RenderedTopic | None:
        if url not in self.topics:
            self.topics[url] = asyncio.ensure_future(asyncio.to_thread(self.hub.render, url, self.now))
        return await self.topics[url]

    async def handle(self, row: store.SubscriptionState) -> None:
        try:
            if row.pending_mode is not None:
                await self.verify(row)
            elif row.expires_at is not None and row.expires_at < self.now:
                self.report.expired += 1
                await asyncio.to_thread(store.drop, self.hub.engine, row.id, self.hub.owner)
            else:
                await self.deliver(row)
        except Exception:
            log.exception("websub: subscription %d failed", row.id)

    async def verify(self, row: store.SubscriptionState) -> None:
        engine, owner = self.hub.engine, self.hub.owner
        challenge = secrets.token_urlsafe(32)
        params = {"hub.mode": row.pending_mode or "", "hub.topic": row.topic, "hub.challenge": challenge}
        if row.pending_mode == "subscribe":
            params["hub.lease_seconds"] = str(row.pending_lease)
        topic = await self.topic(row.topic) if row.pending_mode == "subscribe" else None
        if row.pending_mode == "subscribe" and topic is None:
            why = "the topic names no feed"  # the callback is not called for it
        else:
            reply = await self.callbacks.verify(row.callback, params)
            if reply.is_success and reply.body.strip() == challenge.encode():
                etag = topic.etag if topic is not None else None
                await asyncio.to_thread(store.record_verified, engine, row, owner, self.hub.clock(), etag)
                self.report.verified += 1
                log.info("websub: %s of %s confirmed by %s", row.pending_mode, row.topic, row.callback)
                return
            why = reply.describe() if not reply.is_success else "the challenge was not echoed"
        await asyncio.to_thread(store.record_refused, engine, row, owner, f"verification: {why}")
        self.report.refused += 1
        log.info("websub: %s of %s not confirmed by %s (%s)", row.pending_mode, row.topic, row.callback, why)

    async def deliver(self, row: store.SubscriptionState) -> None:
        engine, owner, s = self.hub.engine, self.hub.owner, self.hub.settings
        topic = await self.topic(row.topic)
        if topic is None:
            self.report.dropped += 1
            log.warning("websub: %s names no feed any more; subscription %d dropped", row.topic, row.id)
            await asyncio.to_thread(store.drop, engine, row.id, owner)
            return
        if topic.etag == row.etag:
            await asyncio.to_thread(store.record_delivered, engine, row.id, owner, topic.etag)
            return
        reply = await self.callbacks.deliver(row.callback, topic, row.secret)
        if reply.is_success:
            self.report.delivered += 1
            await asyncio.to_thread(store.record_delivered, engine, row.id, owner, topic.etag)
            return
        failures = row.attempts + 1
        if failures >= s.max_attempts:
            self.report.dropped += 1
            log.warning("websub: %s failed %d times (%s); dropped", row.callback, failures, reply.describe())
            await asyncio.to_thread(store.drop, engine, row.id, owner)
            return
        self.report.failed += 1
        retry_at = self.hub.clock() + timedelta(
            seconds=retry_delay(failures, s.retry_delay, s.max_retry_delay)
        )
        log.info("websub: delivery to %s failed (%s); again at %s", row.callback, reply.describe(), retry_at)
        await asyncio.to_thread(
            store.record_failed, engine, row.id, owner, failures, retry_at, reply.describe()
        )
