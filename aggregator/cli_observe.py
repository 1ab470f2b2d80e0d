"""What the CLI adds for operations: the log format (``--log-format``,
``AGGREGATOR_LOG_FORMAT``), one log line per source per poll, and the poll metrics:
a node-exporter textfile written after each single run (``AGGREGATOR_METRICS_TEXTFILE``,
for cron) or an HTTP endpoint for ``poll --loop`` (``--metrics-port``,
``--metrics-host``). The commands themselves belong to ``cli``; how a log line looks
to ``logformat``; the metrics to ``poller.metrics``.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .clock import utcnow
from .errors import ConfigError
from .logformat import LOG_FORMATS, configure_logging, redact

if TYPE_CHECKING:
    from .poller import RunReport, SourceOutcome
    from .poller.metrics import PollMetrics

LOG_FORMAT_ENV = "AGGREGATOR_LOG_FORMAT"  # also read by server worker processes (api.app)
TEXTFILE_ENV = "AGGREGATOR_METRICS_TEXTFILE"

log = logging.getLogger("aggregator.poller")


def add_log_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help=f"text, or one JSON object per line (default: ${LOG_FORMAT_ENV} or text)",
    )


def add_metrics_arguments(poll: argparse.ArgumentParser) -> None:
    poll.add_argument(
        "--metrics-port", type=int, help="with --loop: serve Prometheus metrics on this port (default: off)"
    )
    poll.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port")


def setup_logging(args: argparse.Namespace) -> None:
    """Configure logging from ``--log-format`` (or its environment variable) and ``--verbose``.

    Raises:
        ConfigError: the environment names an unknown format.
    """
    fmt = args.log_format or os.environ.get(LOG_FORMAT_ENV) or "text"
    if fmt not in LOG_FORMATS:
        raise ConfigError(f"{LOG_FORMAT_ENV}={fmt[:20]!r}: use one of {', '.join(LOG_FORMATS)}")
    os.environ[LOG_FORMAT_ENV] = fmt  # server worker processes log the same way
    configure_logging(fmt, verbose=args.verbose)


def log_outcome(outcome: SourceOutcome) -> None:
    """One log line for one source's poll, its URL without credentials."""
    url = redact(outcome.url)
    fields = {
        "source_id": outcome.source_id,
        "url": url,
        "outcome": outcome.status,
        "status": outcome.http_status,
        "items_new": outcome.new,
        "items_updated": outcome.updated,
        "duration_ms": round(outcome.elapsed * 1000, 1),
        "error_category": outcome.category,
    }
    log.info("polled %s: %s", url, outcome.status, extra={"fields": fields})


class PollObservers:
    """Everything told of each outcome of a poll: the printer, the log line and the metrics, if any."""

    def __init__(self, args: argparse.Namespace, printer: Callable[[SourceOutcome], None]) -> None:
        self.printer = printer
        self.loop = bool(args.loop)
        self.port: int | None = args.metrics_port
        self.host: str = args.metrics_host
        textfile = os.environ.get(TEXTFILE_ENV)
        self.textfile = Path(textfile) if textfile else None
        self.metrics: PollMetrics | None = None
        self.server: Any = None
        if self.port is not None and not self.loop:
            raise ConfigError("--metrics-port applies to --loop; a single run writes $" + TEXTFILE_ENV)
        if self.textfile is not None or self.port is not None:
            from .poller.metrics import PollMetrics  # only when asked: plain polls load no prometheus_client

            self.metrics = PollMetrics(process=self.port is not None)

    def __call__(self, outcome: SourceOutcome) -> None:
        self.printer(outcome)
        log_outcome(outcome)
        if self.metrics is not None:
            self.metrics(outcome)

    def start(self) -> None:
        """Start the metrics endpoint of ``--loop``, when asked for.

        Raises:
            ConfigError: the address cannot be bound (in use, not local).
        """
        if self.metrics is not None and self.port is not None:
            try:
                self.server = self.metrics.serve(self.host, self.port)
            except OSError as exc:
                raise ConfigError(
                    f"--metrics-port {self.port} on {self.host}: {exc.strerror or exc}"
                ) from exc
            print(f"metrics on http://{self.host}:{self.port}/metrics", flush=True)

    def finish(self, report: RunReport | None = None) -> None:
        """Count a single run (``report``) and write the textfile; stop the endpoint."""
        if self.server is not None:
            self.server.shutdown()
        if self.metrics is None:
            return
        if report is not None:
            self.metrics.finish_run(report, utcnow().timestamp())
        if self.textfile is not None:
            try:
                self.metrics.write_textfile(self.textfile)
            except OSError as exc:
                log.error("cannot write the metrics textfile %s: %s", self.textfile, exc)
