"""Every error the aggregator raises on purpose, in one hierarchy.

    AggregatorError
     +-- ConfigError          bad feeds.toml / settings / OPML file (CLI exit 2)
     +-- SourceError          one source failed; recorded on it, the run goes on (the
     |    |                   poller makes a plain one, category "storage", of a
     |    |                   StorageError met while writing a poll)
     |    +-- FetchError      fetch: dns, connect, tls, timeout, too_large, http_4xx,
     |    |                   http_5xx, blocked, redirect (with the HTTP status, Retry-After)
     |    +-- ParseError      parse: not_a_feed, parse
     +-- StorageError         db (bad URL, no driver, unreachable, schema) and ``store``
     |    |                   (its functions, its ``connect`` / ``transaction``): any
     |    |                   SQLAlchemyError, wrapped once by
     |    |                   ``store.common.wrap_storage_errors`` (CLI exit 1, HTTP 503)
     |    +-- SchemaVersionError  the database is not at the schema revision this release
     |                        uses: run ``aggregator db upgrade`` (CLI exit 2)
     +-- NotFoundError        an unknown named output (HTTP 404)
     +-- QueryError           a bad filter parameter or cursor (HTTP 422, CLI exit 2)
          +-- FilterError     a bad ``filter`` query, with the offset where it went wrong

A ``SourceError`` carries a ``category`` (a ``Category``, one of
``CATEGORIES``) that is stored on the source and shown by ``aggregator
sources`` and ``/api/sources``. Nothing else leaves a module on purpose:
``SQLAlchemyError`` stops at ``store``, network errors at ``fetch``.
"""

from __future__ import annotations

import unicodedata
from typing import Literal, TypeGuard, get_args

Category = Literal[
    "dns",
    "connect",
    "tls",
    "timeout",
    "too_large",
    "redirect",
    "http_4xx",
    "http_5xx",
    "blocked",
    "not_a_feed",
    "parse",
    "storage",
]
CATEGORIES: tuple[Category, ...] = get_args(Category)


def is_category(value: object) -> TypeGuard[Category]:
    """True for one of ``CATEGORIES``."""
    return value in CATEGORIES


class AggregatorError(Exception):
    """Base class of every error raised on purpose."""


class ConfigError(AggregatorError):
    """The configuration is invalid: names the file, the entry and the key."""


class SourceError(AggregatorError):
    """One source could not be polled; ``category`` says which way it failed."""

    category: Category = "parse"

    def __init__(self, message: str, *, category: str | None = None) -> None:
        super().__init__(message)
        if category is not None:
            if not is_category(category):
                raise ValueError(f"unknown error category {category!r}")
            self.category = category

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.category


class FetchError(SourceError):
    """The fetch failed before a usable body arrived."""

    category: Category = "connect"

    def __init__(
        self,
        message: str,
        *,
        category: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, category=category)
        self.status = status
        self.retry_after = retry_after


class ParseError(SourceError):
    """The body arrived but is not a feed we can read."""

    category: Category = "parse"


class StorageError(AggregatorError):
    """The database failed (unreachable, full, locked for too long)."""


class SchemaVersionError(StorageError):
    """The database is behind the schema this release uses, unversioned, or newer; says what to run."""


class NotFoundError(AggregatorError):
    """An unknown named output, source or item."""


class QueryError(AggregatorError):
    """A filter parameter is invalid; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


class FilterError(QueryError):
    """A ``filter`` query is invalid at ``position`` (a 0-based character offset in ``query``)."""

    def __init__(self, query: str, position: int, message: str) -> None:
        super().__init__("filter", f"{message} (at character {position})")
        self.query = query
        self.position = position
        self.reason = message

    def caret(self) -> str:
        """The query on one line and a caret under the position, for a terminal."""
        line = self.query.replace("\n", " ").replace("\t", " ")
        width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line[: self.position])
        return f"{line}\n{' ' * width}^"
