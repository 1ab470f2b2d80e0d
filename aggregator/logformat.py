"""Log lines: plain text or one JSON object per line (``configure_logging``), and
``redact``, which every line goes through so that no credential reaches a log: the
user and password of a URL (``https://***@host/``) and the values of query
parameters named like a secret (``?token=***``). What each module logs belongs to
that module; this one decides only how a line looks.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
MASK = "***"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s?#@]+@")
_SECRET_PARAM = re.compile(
    r"(?i)([?&;][^=&;#\s]*(?:token|key|secret|passw|pwd|auth|sig|session|credential)[^=&;#\s]*=)"
    r"[^&;#\s\"'<>]*"
)


def redact(text: str) -> str:
    """``text`` with URL credentials and secret-looking query values masked."""
    if "://" not in text and "=" not in text:
        return text
    return _SECRET_PARAM.sub(rf"\g<1>{MASK}", _USERINFO.sub(rf"\g<1>{MASK}@", text))


class RedactingFormatter(logging.Formatter):
    """The usual text line, with every credential masked."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's ``fields``, any error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update({k: redact(v) if isinstance(v, str) else v for k, v in fields.items()})
        if record.exc_info:
            line["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(fmt: LogFormat = "text", *, verbose: bool = False, stream: Any = None) -> None:
    """Log to stderr in ``fmt``: warnings, the project's info lines too in JSON, everything with ``verbose``.

    Like ``logging.basicConfig``, plain text leaves a logging already set up by the host alone.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "aggregator", False)]
    if fmt == "text" and len(root.handlers) > len(ours):
        return
    for old in ours:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else RedactingFormatter(TEXT_FORMAT))
    handler.aggregator = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    project = logging.DEBUG if verbose else logging.INFO if fmt == "json" else logging.NOTSET
    logging.getLogger("aggregator").setLevel(project)
