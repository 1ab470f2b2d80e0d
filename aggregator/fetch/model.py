"""What a fetch takes and what it gives back: limits, validators, ``Fetched`` and ``NotModified``.

Plain frozen dataclasses and their default instances. Nothing here touches the
network, aiohttp or the address policy; how a fetch honours these values
belongs to ``client``, ``guard`` and ``decode``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout: float = 10.0
    total_timeout: float = 30.0
    max_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    allow_private: bool = False
    user_agent: str = "aggregator/0.1 (+https://github.com/aggregator/aggregator)"
    max_retry_after: float = 86400.0

    def __post_init__(self) -> None:
        if self.connect_timeout <= 0 or self.total_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must not be negative")
        if self.max_retry_after < 0:
            raise ValueError("max_retry_after must not be negative")


@dataclass(frozen=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Fetched:
    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    etag: str | None
    last_modified: str | None
    permanent_redirect: str | None
    elapsed: float


@dataclass(frozen=True)
class NotModified:
    url: str
    final_url: str
    headers: Mapping[str, str]
    etag: str | None
    last_modified: str | None
    permanent_redirect: str | None
    elapsed: float


DEFAULT_LIMITS = FetchLimits()
NO_VALIDATORS = Validators()
