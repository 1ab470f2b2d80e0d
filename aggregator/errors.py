"""Every error the aggregator raises on purpose, in one hierarchy.

    AggregatorError
     +-- ConfigError          bad feeds.toml / settings (exit status 2)
     +-- SourceError          one source failed; the run goes on
     |    +-- FetchError      network side: dns, connect, tls, timeout, too_large,
     |    |                   http_4xx, http_5xx, blocked, redirect
     |    +-- ParseError      body side: not_a_feed, parse
     +-- StorageError         the database refused or is unreachable
     +-- NotFoundError        an unknown slug, source or tag
     +-- QueryError           a bad filter parameter (HTTP 422, CLI exit 2)

A ``SourceError`` carries a ``category`` (one of ``CATEGORIES``) that is
stored on the source and shown by ``aggregator sources`` and
``/api/sources``.
"""

from __future__ import annotations

CATEGORIES = (
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
)


class AggregatorError(Exception):
    """Base class of every error raised on purpose."""


class ConfigError(AggregatorError):
    """The configuration is invalid: names the file, the entry and the key."""


class SourceError(AggregatorError):
    """One source could not be polled; ``category`` says which way it failed."""

    category = "parse"

    def __init__(self, message: str, *, category: str | None = None) -> None:
        super().__init__(message)
        if category is not None:
            if category not in CATEGORIES:
                raise ValueError(f"unknown error category {category!r}")
            self.category = category

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.category


class FetchError(SourceError):
    """The fetch failed before a usable body arrived."""

    category = "connect"

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

    category = "parse"


class StorageError(AggregatorError):
    """The database failed (unreachable, full, locked for too long)."""


class NotFoundError(AggregatorError):
    """An unknown named output, source or item."""


class QueryError(AggregatorError):
    """A filter parameter is invalid; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message
