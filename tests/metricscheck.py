"""Reading Prometheus metrics back as a user's scraper would: fetch the text over HTTP,
parse it with prometheus-client's own parser, and look samples up by name and labels."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_metrics(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(url: str) -> Samples:
    reply = httpx.get(url, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain; version=")
    return parse_metrics(reply.text)


def value(samples: Samples, name: str, labels: Mapping[str, str] | None = None) -> float | None:
    """One sample's value, or None when the scrape has no such series."""
    return samples.get((name, frozenset((labels or {}).items())))


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}
