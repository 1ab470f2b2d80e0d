"""The XML prolog and its DTD: where the DOCTYPE is, and refusing entity-expansion bombs.

Here: skipping the prolog's whitespace, comments and processing instructions,
finding the DOCTYPE and its internal subset, character references, and
``check_entities``, which refuses nested or oversized entity declarations
before feedparser or expat can expand them. Not here: decoding bytes
(``encoding``) or reading the feed itself (``xmlfeed``).
"""

from __future__ import annotations

import re
from collections import Counter

from ..errors import ParseError

ENTITY_EXPANSION_FLOOR = 2 * 1024 * 1024
ENTITY_EXPANSION_FACTOR = 4

_PROLOG_ITEM = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_DOCTYPE_START = re.compile(r"<!DOCTYPE\b", re.IGNORECASE)
_ENTITY_DECL = re.compile(
    r"<!ENTITY\s+(%\s+)?([^\s\"'>%&;]+)\s+"
    r"(?:\"([^\"]*)\"|'([^']*)'|(SYSTEM|PUBLIC)\b[^>]*)",
)
_ENTITY_REF = re.compile(r"&([A-Za-z_:][A-Za-z0-9_.:-]*);")
_PARAMETER_REF = re.compile(r"%[A-Za-z_:][A-Za-z0-9_.:-]*;")
_PREDEFINED_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_FIRST_START_TAG = re.compile(r"<[A-Za-z_]")
_DOCTYPE_TOKEN = re.compile(r"[\"'\[>]")
_SUBSET_TOKEN = re.compile(r"[\"'\]]|<!--")
_CHAR_REF = re.compile(r"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));")


def _char_ref_code(match: re.Match[str]) -> int | None:
    digits = match.group(1) or match.group(2)
    if len(digits) > 8:
        return None
    return int(digits, 16) if match.group(1) else int(digits)


def _is_valid_xml_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _char_ref_value(match: re.Match[str]) -> str:
    code = _char_ref_code(match)
    return chr(code) if code is not None and _is_valid_xml_char(code) else ""


def strip_invalid_char_refs(text: str) -> str:
    """Remove character references to characters XML 1.0 does not allow."""

    def replace(match: re.Match[str]) -> str:
        code = _char_ref_code(match)
        return match.group(0) if code is not None and _is_valid_xml_char(code) else ""

    return _CHAR_REF.sub(replace, text)


def skip_misc(text: str, position: int) -> int:
    """Skip whitespace, processing instructions and comments from ``position``."""
    while position < len(text):
        match = _PROLOG_ITEM.match(text, position)
        if match is None or match.end() == position:
            break
        position = match.end()
    return position


def find_doctype(text: str) -> tuple[str | None, int] | None:
    """The prolog's DOCTYPE: (its internal subset or None, the offset just after it)."""
    position = skip_misc(text, 0)
    if not _DOCTYPE_START.match(text, position):
        return None
    length = len(text)
    index = position + len("<!DOCTYPE")
    while True:
        match = _DOCTYPE_TOKEN.search(text, index)
        if match is None:
            return None, length
        token = match.group(0)
        if token == ">":
            return None, match.end()
        if token == "[":
            break
        end = text.find(token, match.end())
        if end < 0:
            return None, length
        index = end + 1
    start = index = match.end()
    while True:
        match = _SUBSET_TOKEN.search(text, index)
        if match is None:
            return text[start:], length
        token = match.group(0)
        if token == "]":
            close = text.find(">", match.end())
            return text[start : match.start()], length if close < 0 else close + 1
        closing = "-->" if token == "<!--" else token
        end = text.find(closing, match.end())
        if end < 0:
            return text[start:], length
        index = end + len(closing)


def _declarations_region(text: str) -> str:
    """Where entity declarations can take effect.

    The internal subset of the prolog's DOCTYPE (what expat reads), plus the
    text before the first start tag (what feedparser's lenient parser takes its
    entity declarations from, wherever the DOCTYPE is).
    """
    doctype = find_doctype(text)
    subset = doctype[0] if doctype and doctype[0] else ""
    first_tag = _FIRST_START_TAG.search(text)
    head = text[: first_tag.start()] if first_tag else text
    return subset + "\n" + head if "<!ENTITY" in head else subset


def _entity_values(region: str) -> dict[str, str]:
    """The internal general entities declared in ``region``, by name.

    Raises:
        ParseError: a declaration refers to another entity.
    """
    values: dict[str, str] = {}
    for match in _ENTITY_DECL.finditer(region):
        parameter, name, double, single, external = match.groups()
        value = double if double is not None else single
        if value is None or external:
            continue
        # Character references in a literal are replaced when it is declared:
        # "&#38;x;" becomes a reference to x by the time the entity is used.
        expanded = _CHAR_REF.sub(_char_ref_value, value)
        nested = [ref for ref in _ENTITY_REF.findall(expanded) if ref not in _PREDEFINED_ENTITIES]
        if nested or _PARAMETER_REF.search(expanded) or (parameter and "<" in expanded):
            raise ParseError(
                f"refused: entity declarations reference other entities ({name[:40]!r})",
                category="parse",
            )
        if not parameter:
            values.setdefault(name, value)
    return values


def check_entities(text: str, body_size: int) -> None:
    """Refuse documents whose entity declarations could expand far beyond the body's size.

    Raises:
        ParseError: nested declarations, or an expansion past the budget.
    """
    if "<!ENTITY" not in text:
        return
    region = _declarations_region(text)
    if "<!ENTITY" not in region:
        return
    values = _entity_values(region)
    if not values:
        return
    references = Counter(_ENTITY_REF.findall(text))
    expansion = sum(len(value) * references[name] for name, value in values.items())
    budget = max(ENTITY_EXPANSION_FLOOR, ENTITY_EXPANSION_FACTOR * body_size)
    if expansion > budget:
        raise ParseError(
            f"refused: entity declarations would expand to {expansion} characters (limit {budget})",
            category="parse",
        )
