"""Pure: a pydantic ``ValidationError`` from a ``feeds.toml`` as one line naming the entry and the key.

``[[sources]] entry 2 (https://a/): key 'kind': expected one of …``, ``[poller] key
'concurrency': …``, ``unknown key 'x' (allowed: …)``. What is valid belongs to ``config``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

_UNKNOWN_KEY = ("extra_forbidden", "unexpected_keyword_argument")
ARRAYS = {"sources": "url", "outputs": "slug"}  # array of tables -> the key that labels an entry


def describe_errors(
    exc: ValidationError, raw: Mapping[str, Any], allowed: Mapping[str, Iterable[str]]
) -> str:
    """The first error as ``place: key: message``; ``allowed``: each section's keys ("": the top)."""
    error = exc.errors()[0]
    loc = [part for part in error["loc"] if part != "function-after"]
    if len(loc) == 1 and error["type"] in _UNKNOWN_KEY:
        return _unknown(str(loc[0]), allowed[""])
    section, rest = str(loc[0]), loc[1:]
    if section in ARRAYS:
        place = f"[[{section}]]"
        if not rest:
            return f"{place} must be an array of tables"
        index, rest = int(rest[0]), rest[1:]
        place += f" entry {index + 1}"
        label = _label(raw, section, index)
        if not rest:
            return (
                f"{place}: {_message(error)}"
                if error["type"] == "value_error"
                else f"{place}: must be a table"
            )
        key = str(rest[0])
        if error["type"] in _UNKNOWN_KEY:
            return f"{place}: {_unknown(key, allowed[section])}"
        if key != ARRAYS[section] and label:
            place += f" ({label})"
        return (
            f"{place}: {_message(error)}" if key == "filters" else f"{place}: key {key!r}: {_message(error)}"
        )
    place = f"[{section}]"
    if not rest:
        return f"{place}: {_message(error)}" if error["type"] == "value_error" else f"{place} must be a table"
    key = str(rest[0])
    if error["type"] in _UNKNOWN_KEY:
        return f"{place}: {_unknown(key, allowed[section])}"
    return f"{place} key {key!r}: {_message(error)}"


def _unknown(key: str, allowed: Iterable[str]) -> str:
    return f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})"


def _message(error: ErrorDetails) -> str:
    if error["type"] == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if error["type"] == "missing":
        return "required"
    return str(error["msg"])


def _label(raw: Mapping[str, Any], section: str, index: int) -> str | None:
    entries = raw.get(section)
    entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
    value = entry.get(ARRAYS[section]) if isinstance(entry, dict) else None
    return value.strip() if isinstance(value, str) else None
