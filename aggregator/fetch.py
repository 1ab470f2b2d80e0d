"""Fetching feed documents over HTTP: the only module that touches the network.

What belongs here, and nowhere else:

* the aiohttp client sessions and their connection pools;
* the SSRF guard: ``is_blocked_address``, ``AddressPolicy``, the guarded DNS
  resolver and the IP-literal check made before every hop;
* manual redirect handling (scheme allowlist, hop limit, loop detection,
  permanent-redirect reporting);
* conditional GET (``Validators`` in, ``NotModified`` out);
* bounds: connect timeout, one wall-clock deadline per fetch, a cap on the
  decoded body size, and our own bounded gzip/deflate decoding;
* ``Retry-After`` parsing;
* mapping every failure onto a ``FetchError`` category.

What does not belong here: feed parsing, storage, scheduling and back-off
decisions. Callers get a ``Fetched`` or a ``NotModified``, or a
``FetchError``; no other exception type leaves ``Fetcher.fetch``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import MappingProxyType, TracebackType
from typing import Protocol

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from multidict import CIMultiDictProxy
from yarl import URL

from aggregator.errors import FetchError

__all__ = [
    "AddressPolicy",
    "FetchLimits",
    "Fetched",
    "Fetcher",
    "GuardedResolver",
    "NotModified",
    "Validators",
    "check_target",
    "is_blocked_address",
    "literal_address",
    "parse_retry_after",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
ACCEPT_ENCODING = "gzip, deflate"
ALLOWED_SCHEMES = frozenset({"http", "https"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_STATUSES = frozenset({301, 308})

_CHUNK = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_LEGACY_IPV4 = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]*|[0-9]+)){0,3}")
_RETRY_SECONDS = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_FORBIDDEN_IN_HEADER = re.compile(r"[\x00-\x1f\x7f]")


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


# --------------------------------------------------------------------------- address guard

_BLOCKED_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_blocked_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for every address a feed fetch must never connect to.

    Loopback, private, link-local, CGNAT, unspecified, multicast, reserved and
    documentation ranges, IPv6 ULA/link-local/site-local, and IPv6 addresses
    that embed a blocked IPv4 address (IPv4-mapped, 6to4, NAT64).
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_blocked_address(embedded)
    if any(ip.version == net.version and ip in net for net in _BLOCKED_NETWORKS):
        return True
    flags = (ip.is_private, ip.is_loopback, ip.is_link_local, ip.is_multicast, ip.is_reserved)
    return any(flags) or ip.is_unspecified or not ip.is_global


def _parse_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which resolved or literal addresses a fetch may connect to."""

    allow_private: bool = False
    extra_allowed: frozenset[str] = field(default_factory=frozenset)

    def permits(self, ip: IPAddress) -> bool:
        if self.allow_private or str(ip) in self.extra_allowed:
            return True
        return not is_blocked_address(ip)

    def permits_text(self, address: str) -> bool:
        ip = _parse_address(address)
        return ip is not None and self.permits(ip)


def literal_address(host: str) -> IPAddress | None:
    """The address a host names without DNS, including legacy IPv4 forms.

    ``2130706433``, ``0x7f000001``, ``127.1`` and ``0177.0.0.1`` all name
    127.0.0.1 (``inet_aton`` semantics); a name that needs DNS gives None.
    """
    bare = host.strip("[]").rstrip(".")
    ip = _parse_address(bare)
    if ip is not None or not _LEGACY_IPV4.fullmatch(bare):
        return ip
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


def _blocked(message: str) -> FetchError:
    return FetchError(message, category="blocked")


def check_target(url: URL, policy: AddressPolicy) -> None:
    """Refuse, before connecting, a URL whose scheme or literal address is not allowed."""
    if url.scheme not in ALLOWED_SCHEMES:
        raise _blocked(f"scheme {url.scheme!r} not allowed: {url}")
    if not url.host:
        raise _blocked(f"URL has no host: {url}")
    ip = literal_address(url.host)
    if ip is not None and not policy.permits(ip):
        raise _blocked(f"address {ip} is not allowed: {url}")


class HostBlockedError(OSError):
    """Every address a name resolved to is blocked by the policy."""


class HostUnresolvableError(OSError):
    """The name did not resolve."""


class GuardedResolver(AbstractResolver):
    """Wraps a resolver and drops the addresses the policy does not permit."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            results = await self._inner.resolve(host, port, family)
        except OSError as exc:
            raise HostUnresolvableError(f"cannot resolve {host}: {exc}") from exc
        allowed = [r for r in results if self._policy.permits_text(r["host"])]
        if not allowed:
            found = ", ".join(r["host"] for r in results) or "nothing"
            raise HostBlockedError(f"{host} resolves only to blocked addresses ({found})")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


# --------------------------------------------------------------------------- Retry-After


def _clamp(seconds: float, cap: float) -> float:
    return min(max(seconds, 0.0), cap)


def parse_retry_after(value: str | None, now: datetime, cap: float) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or HTTP-date).

    Garbage gives None; a negative delay or a date in the past gives 0; a
    longer delay gives ``cap``. A naive ``now`` is taken as UTC.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _RETRY_SECONDS.fullmatch(text):
        return _clamp(float(text), cap)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return _clamp((when - now).total_seconds(), cap)


# --------------------------------------------------------------------------- body decoding


def _too_large(limit: int) -> FetchError:
    return FetchError(f"body exceeds {limit} bytes", category="too_large")


class _Decoder(Protocol):
    def feed(self, data: bytes) -> None: ...

    def finish(self) -> bytes: ...


class _IdentityDecoder:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._out = bytearray()

    def feed(self, data: bytes) -> None:
        if len(self._out) + len(data) > self._limit:
            raise _too_large(self._limit)
        self._out += data

    def finish(self) -> bytes:
        return bytes(self._out)


def _deflate_wbits(head: bytes) -> int:
    cmf, flg = head[0], head[1]
    is_zlib = cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
    return zlib.MAX_WBITS if is_zlib else -zlib.MAX_WBITS


class _ZlibDecoder:
    """Inflates gzip (all members) or deflate (zlib or raw) without exceeding ``limit``."""

    def __init__(self, limit: int, *, gzip: bool) -> None:
        self._limit = limit
        self._gzip = gzip
        self._label = "gzip" if gzip else "deflate"
        self._z: zlib._Decompress | None = None
        self._pending = b""
        self._out = bytearray()
        self._ignoring = False

    def feed(self, data: bytes) -> None:
        data, self._pending = self._pending + data, b""
        while data and not self._ignoring:
            if self._z is None or self._z.eof:
                data = self._start_member(data)
                continue
            data = self._inflate(self._z, data)

    def _start_member(self, data: bytes) -> bytes:
        if len(data) < 2:
            self._pending = data
            return b""
        if self._z is None and not self._gzip:
            self._z = zlib.decompressobj(_deflate_wbits(data))
        elif self._gzip and data[:2] == _GZIP_MAGIC:
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._z is None:
            raise self._corrupt("not a gzip stream")
        else:
            self._ignoring = True
        return data

    def _inflate(self, z: zlib._Decompress, data: bytes) -> bytes:
        try:
            piece = z.decompress(data, self._limit - len(self._out) + 1)
        except zlib.error as exc:
            raise self._corrupt(str(exc)) from exc
        if len(self._out) + len(piece) > self._limit:
            raise _too_large(self._limit)
        self._out += piece
        return z.unused_data if z.eof else z.unconsumed_tail

    def _corrupt(self, detail: str) -> FetchError:
        return FetchError(f"corrupt {self._label} body: {detail}", category="connect")

    def finish(self) -> bytes:
        if self._z is None and not self._pending:
            return b""
        if self._z is None or not (self._z.eof or self._ignoring):
            raise self._corrupt("truncated stream")
        return bytes(self._out)


def _content_codings(headers: CIMultiDictProxy[str]) -> list[str]:
    codings = [c.strip().lower() for v in headers.getall("Content-Encoding", []) for c in v.split(",")]
    return [c for c in codings if c and c != "identity"]


def _make_decoder(headers: CIMultiDictProxy[str], limit: int) -> _Decoder:
    codings = _content_codings(headers)
    if len(codings) > 1:
        raise FetchError(f"stacked content encodings refused: {', '.join(codings)}", category="too_large")
    if not codings:
        return _IdentityDecoder(limit)
    if codings[0] in ("gzip", "x-gzip"):
        return _ZlibDecoder(limit, gzip=True)
    if codings[0] == "deflate":
        return _ZlibDecoder(limit, gzip=False)
    raise FetchError(f"unsupported content encoding {codings[0]!r}", category="connect")


def _raw_cap(limit: int, encoded: bool) -> int:
    return limit + limit // 64 + 4096 if encoded else limit


def _declared_length(headers: CIMultiDictProxy[str]) -> int | None:
    value = headers.get("Content-Length", "").strip()
    return int(value) if value.isdigit() else None


async def _read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    decoder = _make_decoder(resp.headers, limit)
    cap = _raw_cap(limit, bool(_content_codings(resp.headers)))
    declared = _declared_length(resp.headers)
    if declared is not None and declared > cap:
        raise FetchError(f"Content-Length {declared} exceeds {cap} bytes", category="too_large")
    received = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        received += len(chunk)
        if received > cap:
            raise _too_large(cap)
        decoder.feed(chunk)
    return decoder.finish()


# --------------------------------------------------------------------------- error mapping

_SIMPLE_CATEGORIES: tuple[tuple[type[BaseException], str, str], ...] = (
    (ssl.SSLError, "tls", "TLS error"),
    (aiohttp.ConnectionTimeoutError, "timeout", "connect timeout"),
    (TimeoutError, "timeout", "timed out"),
    (aiohttp.InvalidURL, "blocked", "invalid URL"),
    (aiohttp.NonHttpUrlClientError, "blocked", "not an http(s) URL"),
    (aiohttp.ClientPayloadError, "connect", "incomplete or malformed body"),
    (aiohttp.ServerDisconnectedError, "connect", "server disconnected"),
    (aiohttp.ClientResponseError, "connect", "malformed response"),
    (aiohttp.ClientError, "connect", "connection failed"),
    (OSError, "connect", "connection failed"),
)


def _connector_category(exc: aiohttp.ClientConnectorError) -> str:
    cause = exc.os_error
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return "tls"
    if isinstance(cause, ssl.SSLError):
        return "tls"
    if isinstance(cause, HostBlockedError):
        return "blocked"
    if isinstance(cause, HostUnresolvableError | socket.gaierror):
        return "dns"
    if isinstance(cause, TimeoutError):
        return "timeout"
    return "connect"


def _connector_error(exc: aiohttp.ClientConnectorError) -> FetchError:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        detail = str(exc.certificate_error)
    else:
        detail = str(exc.os_error) or type(exc.os_error).__name__
    return FetchError(f"{exc.host}:{exc.port}: {detail}", category=_connector_category(exc))


def _describe(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, aiohttp.ClientResponseError) else str(exc)
    return " ".join(text.split()) or type(exc).__name__


def _classify(exc: BaseException) -> FetchError:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _connector_error(exc)
    if isinstance(exc.__cause__, ssl.SSLError):
        return FetchError(f"TLS error: {exc.__cause__}", category="tls")
    for kind, category, description in _SIMPLE_CATEGORIES:
        if isinstance(exc, kind):
            return FetchError(f"{description}: {_describe(exc)}", category=category)
    return FetchError(f"unexpected failure: {exc!r}", category="connect")


def _status_category(status: int) -> str:
    if 400 <= status < 500:
        return "http_4xx"
    if 500 <= status < 600:
        return "http_5xx"
    if 300 <= status < 400:
        return "redirect"
    return "connect"


def _status_error(resp: aiohttp.ClientResponse, cap: float) -> FetchError:
    retry = parse_retry_after(resp.headers.get("Retry-After"), datetime.now(UTC), cap)
    return FetchError(
        f"HTTP {resp.status} {resp.reason or ''}".rstrip() + f" from {resp.url}",
        category=_status_category(resp.status),
        status=resp.status,
        retry_after=retry,
    )


# --------------------------------------------------------------------------- redirects


def _parse_url(url: str) -> URL:
    try:
        parsed = URL(url)
    except (TypeError, ValueError) as exc:
        raise _blocked(f"invalid URL {url!r}: {exc}") from exc
    if not parsed.is_absolute():
        raise _blocked(f"URL is not absolute: {url!r}")
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


# --------------------------------------------------------------------------- fetcher


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
    ) -> None:
        self._limits = limits
        self._max_connections = max_connections
        self._per_host = per_host
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
        return _classify(exc)

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
            raise _status_error(resp, self._limits.max_retry_after)
        body = await _read_body(resp, self._limits.max_bytes)
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
