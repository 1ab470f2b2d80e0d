"""``logformat``: credentials never reach a log line, in text or in JSON."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from aggregator.logformat import configure_logging, redact

CASES = [
    # (text, what must be gone, what must stay)
    (
        "https://alice:hunter2@example.org/feed.xml",
        ["alice", "hunter2"],
        ["https://***@example.org/feed.xml"],
    ),
    ("https://ci-token@example.org/f", ["ci-token"], ["example.org/f"]),
    ("https://example.org/rss?token=abc123&tag=go", ["abc123"], ["token=***", "tag=go"]),
    ("https://example.org/rss?tag=go&api_key=k1;x=2#top", ["k1"], ["api_key=***", "tag=go", "x=2#top"]),
    ("https://e.org/f?Access_Token=t1&session_id=s1&sig=z9", ["t1", "s1", "z9"], ["Access_Token=***"]),
    ("https://e.org/f?password=p&secret=q", ["=p", "=q"], ["password=***", "secret=***"]),
    ("polled https://u:p@a.example/x and https://b.example/y?key=v", ["u:p", "=v"], ["b.example/y"]),
    ("https://b.hatena.ne.jp/q/kubernetes?mode=rss&sort=recent", [], ["mode=rss&sort=recent"]),
    ("no URL here, a=1", [], ["no URL here, a=1"]),
]


@pytest.mark.parametrize(("text", "gone", "kept"), CASES)
def test_redact_masks_credentials_and_keeps_the_rest(text: str, gone: list[str], kept: list[str]) -> None:
    redacted = redact(text)
    for secret in gone:
        assert secret not in redacted
    for part in kept:
        assert part in redacted


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("aggregator").level)
    out = io.StringIO()
    try:
        yield out
    finally:
        root.handlers, root.level = saved[0], saved[1]
        logging.getLogger("aggregator").setLevel(saved[2])


def test_json_lines_parse_and_carry_fields_without_secrets(stream: io.StringIO) -> None:
    logging.getLogger().handlers = []  # as in a fresh process: nothing set up yet
    configure_logging("json", stream=stream)
    log = logging.getLogger("aggregator.poller")
    log.info("polled %s", "https://u:pw@h.example/f?token=t0k", extra={"fields": {"source_id": 7, "n": None}})
    log.debug("not shown without --verbose")
    try:
        raise ValueError("https://u:pw@h.example/boom")
    except ValueError:
        log.exception("failed")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(x["level"], x["logger"]) for x in lines] == [
        ("info", "aggregator.poller"),
        ("error", "aggregator.poller"),
    ]
    assert lines[0]["message"] == "polled https://***@h.example/f?token=***"
    assert lines[0]["source_id"] == 7 and lines[0]["n"] is None
    assert "ValueError" in lines[1]["error"]
    assert "pw" not in stream.getvalue() and "t0k" not in stream.getvalue()


def test_text_lines_are_redacted_and_quiet_by_default(stream: io.StringIO) -> None:
    logging.getLogger().handlers = []
    configure_logging("text", stream=stream)
    log = logging.getLogger("aggregator.poller")
    log.info("an info line is not shown")
    log.warning("moved to https://u:pw@h.example/new?sig=abc")
    (line,) = stream.getvalue().splitlines()
    assert line.endswith("WARNING aggregator.poller: moved to https://***@h.example/new?sig=***")
