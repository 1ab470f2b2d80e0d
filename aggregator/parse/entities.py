"""The XML prolog and its DTD: where the DOCTYPE is, and bounding what entities expand to.

Here: skipping the prolog's whitespace, comments and processing instructions,
finding the DOCTYPE and its internal subset, character references, and
``expand_entities``, which refuses nested entity declarations and replaces
references to internal entities itself, within a budget, before feedparser or
expat can expand them. Not here: decoding bytes (``encoding``), reading the
feed itself (``xmlfeed``) or dropping the entries a capped reference spoiled
(``recovery``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ParseError

# Entity values may add max(FLOOR, FACTOR x body size) characters to a document in all.
ENTITY_EXPANSION_FLOOR = 64 * 1024
ENTITY_EXPANSION_FACTOR = 1
# What a reference past the budget becomes: a Unicode noncharacter, which no real text holds,
# so an entry that contains it can be told from the others after parsing.
NOT_EXPANDED = "\ufdd0"

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
# Where a reference may stand, and what to leave alone: CDATA, comments and
# processing instructions keep "&name;" literally; a start tag's attribute
# values take the expansion escaped. Quoted values cannot hold "<", which keeps
# the scan linear on unterminated quotes.
_MARKUP_OR_REF = re.compile(
    r"<!\[CDATA\[.*?(?:\]\]>|\Z)"
    r"|<!--.*?(?:-->|\Z)"
    r"|<\?.*?(?:\?>|\Z)"
    r"|<[A-Za-z_][^<>\"']*(?:(?:\"[^\"<]*\"|'[^'<]*')[^<>\"']*)*>"
    r"|&(?P<ref>[A-Za-z_:][A-Za-z0-9_.:-]*);",
    re.DOTALL,
)
_ATTRIBUTE_ESCAPES = str.maketrans({"<": "&lt;", '"': "&quot;", "'": "&apos;"})


@dataclass(frozen=True)
class Expansion:
    """A document whose references to internal entities were replaced, within a budget."""

    text: str
    budget: int  # characters of entity values the document may add
    expanded: int  # references replaced by their value
    capped: int  # references past the budget, replaced by ``NOT_EXPANDED``


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
    """The internal general entities declared in ``region``: name -> replacement text.

    Character references in a literal are replaced when it is declared, so the
    replacement text of "&#169; ACME" is "(c) ACME", and "&#38;x;" becomes a
    reference to x by the time the entity is used.

    Raises:
        ParseError: a declaration refers to another entity.
    """
    values: dict[str, str] = {}
    for match in _ENTITY_DECL.finditer(region):
        parameter, name, double, single, external = match.groups()
        value = double if double is not None else single
        if value is None or external:
            continue
        expanded = _CHAR_REF.sub(_char_ref_value, value)
        nested = [ref for ref in _ENTITY_REF.findall(expanded) if ref not in _PREDEFINED_ENTITIES]
        if nested or _PARAMETER_REF.search(expanded) or (parameter and "<" in expanded):
            raise ParseError(
                f"refused: entity declarations reference other entities ({name[:40]!r})",
                category="parse",
            )
        if not parameter:
            values.setdefault(name, expanded)
    return values


def _content_start(text: str) -> int:
    """Where the document element starts: references before it belong to the DTD."""
    doctype = find_doctype(text)
    end = doctype[1] if doctype else 0
    first_tag = _FIRST_START_TAG.search(text, end)
    return first_tag.start() if first_tag else len(text)


class _Expander:
    """Replaces references in document order while the budget lasts."""

    def __init__(self, values: dict[str, str], budget: int) -> None:
        self.values = values
        self.remaining = budget
        self.expanded = 0
        self.capped = 0

    def replacement(self, name: str) -> str | None:
        """The value for a reference to ``name``; None when it is no internal entity of ours."""
        value = self.values.get(name)
        if value is None:
            return None
        if len(value) > self.remaining:
            self.capped += 1
            return NOT_EXPANDED
        self.remaining -= len(value)
        self.expanded += 1
        return value

    def __call__(self, match: re.Match[str]) -> str:
        name = match.group("ref")
        if name is not None:
            value = self.replacement(name)
            return match.group(0) if value is None else value
        token = match.group(0)
        if token.startswith(("<!", "<?")):
            return token
        return _ENTITY_REF.sub(self._in_attribute, token)

    def _in_attribute(self, match: re.Match[str]) -> str:
        value = self.replacement(match.group(1))
        return match.group(0) if value is None else value.translate(_ATTRIBUTE_ESCAPES)


def expand_entities(text: str, body_size: int) -> Expansion:
    """Replace references to internal entities by their values, adding at most the budget in all.

    The budget is max(``ENTITY_EXPANSION_FLOOR``, ``ENTITY_EXPANSION_FACTOR`` x
    ``body_size``) characters. A reference whose value no longer fits becomes
    ``NOT_EXPANDED``, so the entry that holds it can be dropped whole rather
    than stored altered. References in comments and CDATA sections stay, as XML
    says; predefined, undefined and external entities are left to the parser
    (which never reads an external one).

    Raises:
        ParseError: an entity declaration refers to another entity.
    """
    budget = max(ENTITY_EXPANSION_FLOOR, ENTITY_EXPANSION_FACTOR * body_size)
    unchanged = Expansion(text, budget, 0, 0)
    if "<!ENTITY" not in text:
        return unchanged
    region = _declarations_region(text)
    if "<!ENTITY" not in region:
        return unchanged
    values = _entity_values(region)
    if not values:
        return unchanged
    start = _content_start(text)
    expander = _Expander(values, budget)
    body = _MARKUP_OR_REF.sub(expander, text[start:])
    if not (expander.expanded or expander.capped):
        return unchanged
    return Expansion(text[:start] + body, budget, expander.expanded, expander.capped)
