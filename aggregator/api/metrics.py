"""Prometheus metrics of the HTTP service at ``/metrics``: requests and their latency
by route template (``/feeds/tag/{tag}.{ext}``, never the raw path; ``unmatched``
for a path no route matched) and status class, counted by ``RequestMetrics``, a pure
ASGI middleware doing a dictionary look-up and two clock reads per request; the slice
cache's hits and renders, read from ``SliceCache`` when scraped; how polling keeps up
(sources in error, due, the poll lag), read from the database when scraped; and the
process itself.

Several worker processes: with ``PROMETHEUS_MULTIPROC_DIR`` set (an empty directory,
before the processes start), every worker writes its counts there and a scrape of any
worker reports the sum over all of them (prometheus-client's multiprocess mode; the
process metrics are then left out, and the cache counts are carried over by the
middleware). Routes belong to the route modules; the poller's own metrics to
``poller.metrics``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import StorageError
from ..feedcache import SliceCache
from ..store.health import poll_health
from .deps import Settings, read_connection

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STATUS_CLASSES = {n: f"{n}xx" for n in range(1, 6)}
CACHE_HITS = ("aggregator_slice_cache_hits", "Feed requests answered from the slice cache")
CACHE_RENDERS = ("aggregator_slice_cache_renders", "Feeds rendered (slice cache misses)")


def is_multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class ApiMetrics:
    """The service's metrics and what ``/metrics`` answers with."""

    def __init__(self, settings: Settings) -> None:
        self.multiprocess = is_multiprocess()
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "aggregator_http_requests",
            "HTTP requests by route template and status class",
            ["route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "aggregator_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.health = PollHealthCollector(settings)
        self.cache = CacheCounts(settings.cache) if self.multiprocess else None
        if not self.multiprocess:
            r.register(CacheCollector(settings.cache))
            r.register(self.health)
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)

    def exposition(self) -> bytes:
        """The metrics in Prometheus text format; of every worker process in multiprocess mode."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(self.health)
        return generate_latest(registry)


class RequestMetrics:
    """Counts each HTTP request by the template of the route that answered it, and times it."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception that escaped

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.observe(scope, status, time.perf_counter() - started)

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or UNMATCHED
        key = (template, status // 100)
        children = self.children.get(key)
        if children is None:
            status_class = STATUS_CLASSES.get(status // 100, "5xx")
            counter = self.metrics.requests.labels(template, status_class)
            children = self.children[key] = (counter, self.metrics.latency.labels(template))
        children[0].inc()
        children[1].observe(seconds)
        if self.metrics.cache is not None:
            self.metrics.cache.carry_over()


class CacheCollector(Collector):
    """The slice cache's hits and renders, as counters read when scraped."""

    def __init__(self, cache: SliceCache) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(*CACHE_HITS, value=self.cache.hits)
        yield CounterMetricFamily(*CACHE_RENDERS, value=self.cache.renders)


class CacheCounts:
    """Multiprocess mode: the same two counters, carried over from ``SliceCache`` after each request."""

    def __init__(self, cache: SliceCache) -> None:
        self.cache = cache
        self.hits = Counter(*CACHE_HITS, registry=None)  # collected from the files, not from a registry
        self.renders = Counter(*CACHE_RENDERS, registry=None)
        self.seen = (0, 0)

    def carry_over(self) -> None:
        hits, renders = self.cache.hits, self.cache.renders
        seen_hits, seen_renders = self.seen
        if hits != seen_hits:
            self.hits.inc(hits - seen_hits)
        if renders != seen_renders:
            self.renders.inc(renders - seen_renders)
        self.seen = (hits, renders)


class PollHealthCollector(Collector):
    """Sources in error, due sources and the poll lag, read from the database when scraped."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        try:
            with read_connection(self.settings) as conn:
                health = poll_health(conn, self.settings.clock())
        except StorageError:
            yield GaugeMetricFamily("aggregator_database_up", "1 when the database answered", value=0)
            return
        yield GaugeMetricFamily("aggregator_database_up", "1 when the database answered", value=1)
        yield GaugeMetricFamily(
            "aggregator_sources_enabled", "Sources being polled (configured, not gone)", value=health.enabled
        )
        yield GaugeMetricFamily(
            "aggregator_sources_in_error",
            "Sources whose last poll failed (410 Gone included)",
            value=health.in_error,
        )
        yield GaugeMetricFamily("aggregator_sources_due", "Sources whose next poll is due", value=health.due)
        yield GaugeMetricFamily(
            "aggregator_poll_lag_seconds",
            "How long ago the most overdue source was due (0: none late)",
            value=health.lag_seconds,
        )


def install_metrics(app: FastAPI, settings: Settings) -> None:
    """``GET /metrics`` and the request middleware; add it inside ``HeadAsGet`` (HEAD counts as GET)."""
    metrics = ApiMetrics(settings)
    app.add_middleware(RequestMetrics, metrics=metrics)

    def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", prometheus_metrics, include_in_schema=False)
