"""What a recovered XML document lost: the damage behind a feed's warning, and the entries to drop.

Here: telling feedparser's harmless notes (an encoding label overridden, a
content type that is not XML) from a strict parse that failed, spotting a
truncated document and its incomplete last entry, and dropping the entries
that hold a reference the entity budget left unexpanded. Not here: expanding
entities (``entities``), decoding (``encoding``) or reading an entry
(``xmlentry``); the damage that JSON Feed and our own caps cause is noted
where it happens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import feedparser

from .entities import NOT_EXPANDED, Expansion
from .model import Damage

_ENTRY_START = re.compile(
    r"<(?P<name>(?:[A-Za-z_][\w.-]*:)?(?:item|entry))(?:\s(?:[^<>\"']|\"[^\"<]*\"|'[^'<]*')*)?(?P<empty>/?)>"
)
_ENTRY_END = re.compile(r"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>")
_UNDEFINED_ENTITY = re.compile(r"&[A-Za-z_:][A-Za-z0-9_.:-]{0,40};")


@dataclass(frozen=True)
class Recovery:
    """The entries worth keeping from a parse, and what the document lost."""

    entries: list[Any]
    damage: tuple[Damage, ...]


def strict_parse_failure(result: Mapping[str, Any]) -> BaseException | None:
    """Why feedparser's strict XML parser gave up, or None when it did not.

    feedparser also sets ``bozo`` for notes that cost nothing (its
    ``ThingsNobodyCaresAboutButMe``: an encoding label the bytes overrode, a
    content type that is not XML); those are no failure.
    """
    if not result.get("bozo"):
        return None
    exc = result.get("bozo_exception")
    if isinstance(exc, feedparser.ThingsNobodyCaresAboutButMe):
        return None
    return exc if isinstance(exc, BaseException) else ValueError(str(exc))


def _position(exc: BaseException) -> tuple[int, int] | None:
    """(line, column) of a SAX parse error; None for errors without a position."""
    line = getattr(exc, "getLineNumber", None)
    column = getattr(exc, "getColumnNumber", None)
    if not callable(line) or not callable(column):
        return None
    try:
        return int(line()), int(column())
    except (TypeError, ValueError):
        return None


def _message(exc: BaseException) -> str:
    get_message = getattr(exc, "getMessage", None)
    message = str(get_message() if callable(get_message) else exc) or type(exc).__name__
    return message.splitlines()[0][:160] if message.strip() else type(exc).__name__


def _describe_malformed(exc: BaseException, text: str, line_offset: int) -> str:
    """What the strict parser stopped at, with its line and the name of an undefined entity."""
    message = _message(exc)
    position = _position(exc)
    if position is None:
        return f"XML not well-formed: {message}"
    line, column = position
    if message == "undefined entity":
        lines = text.split("\n", line)
        source_line = lines[line - 1] if 0 < line <= len(lines) else ""
        name = _UNDEFINED_ENTITY.match(source_line, column)
        if name is not None:
            message += f" {name.group(0)}"
    return f"XML not well-formed at line {line + line_offset}: {message}"


def _root_is_closed(text: str, root: str) -> bool:
    return re.search(rf"</{re.escape(root)}\s*>", text) is not None


def _last_entry_is_open(text: str) -> bool:
    """The last entry's start tag is complete but the document ends before its end tag."""
    last = None
    for match in _ENTRY_START.finditer(text):
        last = match
    if last is None or last.group("empty"):
        return False
    return _ENTRY_END.search(text, last.end()) is None


def _without_capped(entries: Sequence[Any]) -> list[Any]:
    return [entry for entry in entries if not holds_not_expanded(entry)]


def holds_not_expanded(value: Any) -> bool:
    """Some string in a feedparser value holds a reference the entity budget left unexpanded."""
    if isinstance(value, str):
        return NOT_EXPANDED in value
    if isinstance(value, Mapping):
        return any(holds_not_expanded(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(holds_not_expanded(item) for item in value)
    return False


def recover_entries(
    text: str, root: str | None, result: Mapping[str, Any], expansion: Expansion, line_offset: int = 0
) -> Recovery:
    """The entries of a feedparser result worth keeping, and the damage found on the way.

    ``text`` is the document feedparser read, ``root`` its document element's
    qualified name, ``line_offset`` the lines cut from its start before parsing.
    A truncated document (its root never closed) loses its incomplete last
    entry; entries holding a reference past the entity budget are dropped whole.
    """
    entries = list(result.get("entries") or [])
    damage: list[Damage] = []
    failure = strict_parse_failure(result)
    if failure is not None:
        truncated = root is not None and not _root_is_closed(text, root)
        position = _position(failure)
        last_line = text.count("\n", 0, len(text.rstrip())) + 1  # the last line that holds anything
        ends_there = position is not None and position[0] >= last_line
        if truncated:
            detail = f"document truncated at line {last_line + line_offset}: no closing </{root}>"
            if entries and _last_entry_is_open(text):
                entries.pop()
                detail += ", incomplete last entry dropped"
            damage.append(Damage("truncated", detail))
        if not (truncated and ends_there):
            damage.append(Damage("malformed", _describe_malformed(failure, text, line_offset)))
    if expansion.capped:
        entries = _without_capped(entries)
        damage.append(
            Damage(
                "entities",
                f"entity expansion capped at {expansion.budget} characters: "
                f"{expansion.capped} references not expanded",
            )
        )
    return Recovery(entries, tuple(damage))
