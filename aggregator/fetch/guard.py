"""The SSRF guard: which addresses and URLs a fetch may reach, checked before every connection.

Here: the blocked address ranges, ``AddressPolicy``, IP literals in host names
(legacy IPv4 forms included), ``check_target`` for each hop's scheme and literal
address, and ``GuardedResolver``, which drops the addresses DNS gives that the
policy refuses. Not here: sessions, redirects and requests (``client``), or
turning connector errors into ``FetchError`` categories (``failures``).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, field

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from ..errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})

_LEGACY_IPV4 = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]*|[0-9]+)){0,3}")

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


PRIVATE_HINT = (
    "to allow it, set allow_private_networks = true on this source in feeds.toml "
    "(or in [poller] for every source)"
)


def blocked_error(message: str) -> FetchError:
    """A ``FetchError`` of category ``blocked``."""
    return FetchError(message, category="blocked")


def check_target(url: URL, policy: AddressPolicy) -> None:
    """Refuse, before connecting, a URL whose scheme or literal address is not allowed."""
    if url.scheme not in ALLOWED_SCHEMES:
        raise blocked_error(f"scheme {url.scheme!r} not allowed: {url}")
    if not url.host:
        raise blocked_error(f"URL has no host: {url}")
    ip = literal_address(url.host)
    if ip is not None and not policy.permits(ip):
        raise blocked_error(f"address {ip} is not allowed: {url}; {PRIVATE_HINT}")


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
            raise HostBlockedError(f"{host} resolves only to blocked addresses ({found}); {PRIVATE_HINT}")
        return allowed

    async def close(self) -> None:
        await self._inner.close()
