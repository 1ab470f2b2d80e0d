"""Pure: the filter language's syntax: the tree (frozen dataclasses) and the parser that builds it.

``parse_query`` reads a string such as ``tag:kubernetes -(tag:helm OR site:example.com)``
into ``Term``, ``Not``, ``And`` and ``Or`` nodes; a term's value stays as typed (``values``
checks and normalizes it). ``-`` binds tighter than juxtaposition (AND), which binds tighter
than ``OR``. Errors carry the 0-based character offset where the query went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from ..errors import FilterError

Kind = Literal["tag", "site", "source", "user", "bookmarks", "date", "intitle", "author", "text"]
FIELDS: tuple[Kind, ...] = tuple(k for k in get_args(Kind) if k != "text")
MAX_LENGTH = 500
MAX_DEPTH = 8
_STOP = ' \t\r\n()"'


@dataclass(frozen=True)
class Bounds:
    """A half-open range of counts or instants, ``low <= x < high``; ``None`` leaves a side open."""

    low: int | datetime | None
    high: int | datetime | None


@dataclass(frozen=True)
class Term:
    """One condition: ``kind`` (``text`` for a bare word or phrase), its value, where it starts, as typed."""

    kind: Kind
    value: str | Bounds
    position: int
    text: str


@dataclass(frozen=True)
class Not:
    operand: Expr


@dataclass(frozen=True)
class And:
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Expr, ...]


Expr = Term | Not | And | Or


def parse_query(query: str) -> Expr | None:
    """The tree of a query; ``None`` for an empty one.

    Raises:
        FilterError: a syntax error, with its position.
    """
    if len(query) > MAX_LENGTH:
        raise FilterError(query, MAX_LENGTH, f"longer than {MAX_LENGTH} characters")
    parser = _Parser(query)
    parser.skip_space()
    if parser.at_end():
        return None
    expr = parser.parse_or(0)
    if not parser.at_end():
        raise parser.error("unbalanced ')'")  # parse_or stops only at the end or at ')'
    return expr


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.pos = 0

    def error(self, message: str, position: int | None = None) -> FilterError:
        return FilterError(self.query, self.pos if position is None else position, message)

    def at_end(self) -> bool:
        return self.pos >= len(self.query)

    def peek(self) -> str:
        return self.query[self.pos] if self.pos < len(self.query) else ""

    def skip_space(self) -> None:
        while self.peek() and self.peek().isspace():
            self.pos += 1

    def at_or(self) -> bool:
        end = self.pos + 2
        return self.query[self.pos : end] == "OR" and (end == len(self.query) or self.query[end] in _STOP)

    def parse_or(self, depth: int) -> Expr:
        if self.at_or():
            raise self.error("expected a term before 'OR'")
        operands = [self.parse_and(depth)]
        while self.at_or():
            self.pos += 2
            self.skip_space()
            if self.at_end() or self.peek() == ")" or self.at_or():
                raise self.error("expected a term after 'OR'")
            operands.append(self.parse_and(depth))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self, depth: int) -> Expr:
        operands = [self.parse_unary(depth)]
        while not self.at_end() and self.peek() != ")" and not self.at_or():
            operands.append(self.parse_unary(depth))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_unary(self, depth: int) -> Expr:
        start = self.pos
        if self.peek() == "-":
            if depth >= MAX_DEPTH:
                raise self.error(f"nested deeper than {MAX_DEPTH}")
            self.pos += 1
            if self.at_end() or self.peek().isspace() or self.peek() == ")" or self.at_or():
                raise self.error("expected a term or a group after '-'", start)
            return Not(self.parse_unary(depth + 1))
        if self.peek() == "(":
            if depth >= MAX_DEPTH:
                raise self.error(f"nested deeper than {MAX_DEPTH}")
            self.pos += 1
            self.skip_space()
            if self.peek() == ")":
                raise self.error("empty group", start)
            if self.at_end():
                raise self.error("missing ')'", start)
            inner = self.parse_or(depth + 1)
            if self.peek() != ")":
                raise self.error("missing ')'", start)
            self.pos += 1
            self.skip_space()
            return inner
        if self.peek() == ")":
            raise self.error("unbalanced ')'")
        term = self.parse_term()
        self.skip_space()
        return term

    def parse_term(self) -> Term:
        start = self.pos
        if self.peek() == '"':
            return Term("text", self.read_phrase(), start, self.typed(start))
        if self.peek() == "#":
            self.pos += 1
            value = self.read_value()
            if not value:
                raise self.error("expected a tag after '#'")
            return Term("tag", value, start, self.typed(start))
        word = self.read_word()
        name, colon, rest = word.partition(":")
        if not colon or rest.startswith("//") or not (name.isascii() and name.isalpha()):
            return Term("text", word, start, word)
        field = name.lower()
        if field not in FIELDS:
            raise self.error(f"unknown term '{name}:' (known: {', '.join(FIELDS)})", start)
        self.pos = start + len(name) + 1
        value = self.read_value()
        if not value:
            raise self.error(f"expected a value after '{name}:'")
        kind: Kind = next(k for k in FIELDS if k == field)
        return Term(kind, value, start, self.typed(start))

    def typed(self, start: int) -> str:
        return self.query[start : self.pos]

    def read_value(self) -> str:
        return self.read_phrase() if self.peek() == '"' else self.read_word()

    def read_word(self) -> str:
        start = self.pos
        while self.peek() and self.peek() not in _STOP and not self.peek().isspace():
            self.pos += 1
        return self.query[start : self.pos]

    def read_phrase(self) -> str:
        start = self.pos
        end = self.query.find('"', start + 1)
        if end < 0:
            raise self.error("missing closing '\"'", start)
        self.pos = end + 1
        phrase = self.query[start + 1 : end]
        if not phrase.strip():
            raise self.error("empty phrase", start)
        return phrase
