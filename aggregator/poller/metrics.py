"""Poll metrics in Prometheus form. ``PollMetrics`` counts every ``SourceOutcome`` as the
poller reports it (polls by outcome and error category, the time one source took,
items new and updated) and every run; ``write_textfile`` writes them for the
node-exporter textfile collector (``poll`` from cron), adding them to the counts the
file already holds so that counters keep counting from run to run, and
``serve_metrics`` exposes them over HTTP (``poll --loop``).

Imported only when metrics are asked for: a plain ``aggregator poll`` loads no
``prometheus_client``. Polling itself belongs to ``run`` and ``source``.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.exposition import write_to_textfile
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from .report import RunReport, SourceOutcome

log = logging.getLogger("aggregator.poller")

# One source's poll: from a few ms (304) to the fetch timeouts (tens of seconds).
POLL_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
SUMMED = ("counter", "histogram")  # kept across runs in the textfile; gauges are replaced
SampleKey = tuple[str, tuple[tuple[str, str], ...]]


class PollMetrics:
    """The poller's counters, on their own registry; call it with each outcome."""

    def __init__(self, *, process: bool = False) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "aggregator_polls",
            "Source polls by outcome and error category",
            ["outcome", "category"],
            registry=r,
        )
        self.duration = Histogram(
            "aggregator_poll_duration_seconds",
            "Time to poll one source (fetch, parse and write), by outcome",
            ["outcome"],
            buckets=POLL_BUCKETS,
            registry=r,
        )
        self.fetch_duration = Histogram(
            "aggregator_fetch_duration_seconds",
            "Time to fetch one source (request to last byte, redirects included), when its server answered",
            buckets=POLL_BUCKETS,
            registry=r,
        )
        self.items_new = Counter("aggregator_items_new", "Items first seen by a poll", registry=r)
        self.items_updated = Counter("aggregator_items_updated", "Items a poll found changed", registry=r)
        self.runs = Counter(
            "aggregator_poll_runs",
            "Single poll runs (cron), by result: ran or locked",
            ["result"],
            registry=r,
        )
        self.last_run = Gauge(
            "aggregator_poll_last_run_timestamp_seconds", "When the last single poll run ended", registry=r
        )
        if process:
            from prometheus_client import ProcessCollector

            ProcessCollector(registry=r)

    def __call__(self, outcome: SourceOutcome) -> None:
        self.polls.labels(outcome.status, outcome.category or "").inc()
        self.duration.labels(outcome.status).observe(outcome.elapsed)
        if outcome.fetch_elapsed is not None:
            self.fetch_duration.observe(outcome.fetch_elapsed)
        if outcome.new:
            self.items_new.inc(outcome.new)
        if outcome.updated:
            self.items_updated.inc(outcome.updated)

    def finish_run(self, report: RunReport, now: float) -> None:
        """Count a single run that ended at ``now`` (Unix time)."""
        self.runs.labels("locked" if report.locked_by else "ran").inc()
        self.last_run.set(now)

    def write_textfile(self, path: Path) -> None:
        """Write the metrics to ``path`` atomically, counters and histograms added to what it held."""
        with _exclusive(path):
            previous = read_textfile(path)
            write_to_textfile(str(path), Accumulated(self.registry, previous))

    def serve(self, host: str, port: int) -> Any:
        """Expose the metrics on ``http://host:port/metrics`` from a daemon thread; returns the server."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server


def read_textfile(path: Path) -> dict[str, Metric]:
    """The families a previous run wrote (none when the file is missing or unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.warning("cannot read the metrics textfile %s: %s; starting from zero", path, exc)
        return {}
    try:
        return {f.name: f for f in text_string_to_metric_families(text) if not f.name.endswith("_created")}
    except ValueError as exc:
        log.warning("the metrics textfile %s does not parse: %s; starting from zero", path, exc)
        return {}


class Accumulated(Collector):
    """The registry's families, counters and histograms summed with ``previous`` series by series."""

    def __init__(self, registry: CollectorRegistry, previous: dict[str, Metric]) -> None:
        self.registry = registry
        self.previous = previous

    def collect(self) -> Iterator[Metric]:
        for family in self.registry.collect():
            carried = self._carried(family)
            merged = Metric(family.name, family.documentation, family.type, family.unit)
            for sample in family.samples:
                if not sample.name.endswith("_created"):
                    earlier = carried.pop(_key(sample.name, sample.labels), 0.0)
                    merged.add_sample(sample.name, sample.labels, sample.value + earlier)
            for (name, labels), value in carried.items():  # series only earlier runs saw
                merged.add_sample(name, dict(labels), value)
            yield merged

    def _carried(self, family: Metric) -> dict[SampleKey, float]:
        old = self.previous.get(family.name)
        if old is None or family.type not in SUMMED or old.type != family.type:
            return {}
        return {_key(s.name, s.labels): s.value for s in old.samples}


def _key(name: str, labels: dict[str, str]) -> SampleKey:
    return name, tuple(sorted(labels.items()))


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """One writer at a time for ``path`` (two cron polls on one host): a lock on ``path.lock``."""
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
