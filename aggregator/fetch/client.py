"""The ``Fetcher``: sessions, conditional GET, redirects followed by hand, one deadline per fetch.

Here: the aiohttp sessions and their pools (one per address policy), the
request headers, the redirect chain (scheme and address checked at every hop,
hop limit, loop detection, permanent-redirect reporting) and building
``Fetched`` or ``NotModified``. Not here: the address rules (``guard``), body
decoding and the size cap (``decode``), or which category a failure gets
(``failures``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType, TracebackType

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from ..clock import Clock, utcnow
from ..errors import FetchError
from .decode import read_body
from .failures import classify, status_error
from .guard import AddressPolicy, GuardedResolver, blocked_error, check_target
from .model import DEFAULT_LIMITS, NO_VALIDATORS, Fetched, FetchLimits, NotModified, Validators

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
ACCEPT_ENCODING = "gzip, deflate"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_STATUSES = frozenset({301, 308})

_FORBIDDEN_IN_HEADER = re.compile(r"[\x00-\x1f\x7f]")


def _parse_url(url: str) -> URL:
    try:
        parsed = URL(url)
    except (TypeError, ValueError) as exc:
        raise blocked_error(f"invalid URL {url!r}: {exc}") from exc
    if not parsed.is_absolute():
        raise blocked_error(f"URL is not absolute: {url!r}")
    return parsed


def _redirect_target(current: URL, resp: aiohttp.ClientResponse) -> URL:
    location = resp.headers.get("Location", "").strip()
    if not location:
        raise FetchError(f"HTTP {resp.status} without Location from {current}", category="redirect")
    try:
        target = current.join(URL(location))
    except (TypeError, ValueError) as exc:
        raise FetchError(f"invalid redirect Location {location!r}", category="redirect") from exc
    return target.with_fragment(None)


@dataclass
class _Chain:
    """The state of one fetch as it follows redirects."""

    requested: str
    current: URL
    max_redirects: int
    started: float = field(default_factory=time.monotonic)
    hops: int = 0
    all_permanent: bool = True
    visited: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.visited.add(str(self.current))

    def follow(self, status: int, target: URL) -> None:
        self.hops += 1
        if self.hops > self.max_redirects:
            raise FetchError(
                f"more than {self.max_redirects} redirects from {self.requested}", category="redirect"
            )
        if str(target) in self.visited:
            raise FetchError(f"redirect loop at {target} from {self.requested}", category="redirect")
        self.visited.add(str(target))
        self.all_permanent = self.all_permanent and status in PERMANENT_STATUSES
        self.current = target

    @property
    def permanent_redirect(self) -> str | None:
        return str(self.current) if self.hops and self.all_permanent else None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def _flat_headers(headers: CIMultiDictProxy[str]) -> Mapping[str, str]:
    merged: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    return MappingProxyType(merged)


def _header_safe(value: str | None) -> str | None:
    if value is None or not value or _FORBIDDEN_IN_HEADER.search(value):
        return None
    return value


class Fetcher:
    """Fetches feed URLs within ``FetchLimits``; use as ``async with Fetcher() as f``."""

    def __init__(
        self,
        limits: FetchLimits = DEFAULT_LIMITS,
        *,
        max_connections: int = 32,
        per_host: int = 4,
        address_policy: AddressPolicy | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._limits = limits
        self._max_connections = max_connections
        self._per_host = per_host
        self._clock = clock
        self._policy = address_policy or AddressPolicy(allow_private=limits.allow_private)
        self._sessions: dict[AddressPolicy, aiohttp.ClientSession] = {}
        self._resolvers: list[GuardedResolver] = []
        self._closed = False

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        sessions, self._sessions = list(self._sessions.values()), {}
        resolvers, self._resolvers = self._resolvers, []
        for session in sessions:
            await session.close()
        for resolver in resolvers:
            await resolver.close()

    def _session_for(self, policy: AddressPolicy) -> aiohttp.ClientSession:
        session = self._sessions.get(policy)
        if session is not None:
            return session
        if self._closed:
            raise FetchError("fetcher is closed", category="connect")
        resolver = GuardedResolver(policy)
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, limit_per_host=self._per_host, resolver=resolver, ssl=True
        )
        session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._limits.connect_timeout),
        )
        self._resolvers.append(resolver)
        self._sessions[policy] = session
        return session

    def _request_headers(self, validators: Validators) -> dict[str, str]:
        headers = {
            "User-Agent": self._limits.user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        etag = _header_safe(validators.etag)
        last_modified = _header_safe(validators.last_modified)
        if etag is not None:
            headers["If-None-Match"] = etag
        if last_modified is not None:
            headers["If-Modified-Since"] = last_modified
        return headers

    async def fetch(
        self, url: str, validators: Validators = NO_VALIDATORS, *, allow_private: bool | None = None
    ) -> Fetched | NotModified:
        """GET ``url`` following redirects; raise ``FetchError`` on any failure."""
        policy = self._policy if allow_private is None else replace(self._policy, allow_private=allow_private)
        deadline = asyncio.timeout(self._limits.total_timeout)
        try:
            async with deadline:
                return await self._follow(url, validators, policy)
        except Exception as exc:
            raise self._failure(exc, deadline.expired()) from exc

    def _failure(self, exc: Exception, expired: bool) -> FetchError:
        if expired:
            return FetchError(f"deadline of {self._limits.total_timeout}s exceeded", category="timeout")
        if isinstance(exc, FetchError):
            return exc
        return classify(exc)

    async def _follow(self, url: str, validators: Validators, policy: AddressPolicy) -> Fetched | NotModified:
        chain = _Chain(url, _parse_url(url), self._limits.max_redirects)
        session = self._session_for(policy)
        headers = self._request_headers(validators)
        while True:
            check_target(chain.current, policy)
            async with session.get(chain.current, headers=headers, allow_redirects=False) as resp:
                if resp.status not in REDIRECT_STATUSES:
                    return await self._finish(chain, resp, validators)
                target = _redirect_target(chain.current, resp)
            chain.follow(resp.status, target)

    async def _finish(
        self, chain: _Chain, resp: aiohttp.ClientResponse, validators: Validators
    ) -> Fetched | NotModified:
        if resp.status == 304:
            return self._not_modified(chain, resp, validators)
        if not 200 <= resp.status < 300:
            raise status_error(resp, self._limits.max_retry_after, self._clock())
        body = await read_body(resp, self._limits.max_bytes)
        return Fetched(
            url=chain.requested,
            final_url=str(chain.current),
            status=resp.status,
            headers=_flat_headers(resp.headers),
            body=body,
            etag=resp.headers.get("ETag"),
            last_modified=resp.headers.get("Last-Modified"),
            permanent_redirect=chain.permanent_redirect,
            elapsed=chain.elapsed,
        )

    @staticmethod
    def _not_modified(chain: _Chain, resp: aiohttp.ClientResponse, validators: Validators) -> NotModified:
        return NotModified(
            url=chain.requested,
            final_url=str(chain.current),
            headers=_flat_headers(resp.headers),
            etag=resp.headers.get("ETag") or validators.etag,
            last_modified=resp.headers.get("Last-Modified") or validators.last_modified,
            permanent_redirect=chain.permanent_redirect,
            elapsed=chain.elapsed,
        )
