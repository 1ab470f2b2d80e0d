"""The poll command's line for one source, and the run's summary."""

from __future__ import annotations

import pytest

from aggregator.poller import RunReport, SourceOutcome


def outcome(status: str, **values: object) -> SourceOutcome:
    return SourceOutcome(
        source_id=1, url="https://a.example/feed", label="A", status=status, elapsed=0.012, **values
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "line"),
    [
        (outcome("new", new=3, updated=1), "A: new: 3 new, 1 updated (12 ms)"),
        (outcome("not_modified"), "A: not modified (12 ms)"),
        (
            outcome("error", category="timeout", message="no answer in 30 s"),
            "A: error [timeout] no answer in 30 s (12 ms)",
        ),
        (outcome("gone", category="http_4xx", message="410 Gone"), "A: gone [http_4xx] 410 Gone (12 ms)"),
        (
            outcome("new", new=8, message="document truncated at line 11; kept 8 of 9 entries"),
            "A: new: 8 new, 0 updated; document truncated at line 11; kept 8 of 9 entries (12 ms)",
        ),
    ],
)
def test_outcome_line(given: SourceOutcome, line: str) -> None:
    assert given.line() == line


def test_failed_counts_errors_and_gone() -> None:
    report = RunReport(outcomes=[outcome("error", category="dns"), outcome("gone"), outcome("unchanged")])
    assert report.failed == 2
