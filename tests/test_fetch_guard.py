"""fetch.guard: the SSRF guard, on literal addresses, resolved names and every redirect hop."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from feedserver import (
    FeedServer,
)
from fetching import (
    FEED,
    GUARDED,
    LIMITS,
    failure,
    run_fetch,
)
from yarl import URL

from aggregator.errors import FetchError
from aggregator.fetch import (
    AddressPolicy,
    Fetched,
    Fetcher,
    GuardedResolver,
    HostBlockedError,
    HostUnresolvableError,
    NotModified,
    check_target,
    is_blocked_address,
    literal_address,
)

# --------------------------------------------------------------------------- SSRF guard

LEGACY_LOOPBACK = ["127.0.0.1", "2130706433", "0x7f000001", "127.1", "0177.0.0.1", "0x7f.0.0.1", "127.0.0.1."]


@pytest.mark.parametrize("host", LEGACY_LOOPBACK)
def test_guard_blocks_every_spelling_of_loopback(srv: FeedServer, host: str) -> None:
    srv.route("/a.xml", FEED)
    error = failure(f"http://{host}:{srv.port}/a.xml", GUARDED)
    assert error.category == "blocked"
    assert srv.count() == 0
    assert srv.connections_accepted == 0


@pytest.mark.parametrize("host", ["[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "0.0.0.0", "[::]"])
def test_guard_blocks_ipv6_and_unspecified_literals(srv: FeedServer, host: str) -> None:
    srv.route("/a.xml", FEED)
    assert failure(f"http://{host}:{srv.port}/a.xml", GUARDED).category == "blocked"
    assert srv.count() == 0


def test_guard_checks_resolved_addresses(srv: FeedServer) -> None:
    srv.route("/a.xml", FEED)
    error = failure(f"http://localhost:{srv.port}/a.xml", GUARDED)
    assert error.category == "blocked"
    assert "resolves only to blocked addresses" in error.message
    assert srv.connections_accepted == 0


def test_guard_is_on_by_default(srv: FeedServer) -> None:
    srv.route("/a.xml", FEED)
    with pytest.raises(FetchError) as info:
        asyncio.run(_default_fetch(srv.url("/a.xml")))
    assert info.value.category == "blocked"
    assert srv.count() == 0


async def _default_fetch(url: str) -> Fetched | NotModified:
    async with Fetcher() as fetcher:
        return await fetcher.fetch(url)


def test_per_call_override_turns_the_guard_off_and_on(srv: FeedServer) -> None:
    srv.route("/a.xml", FEED)
    result = run_fetch(srv.url("/a.xml"), GUARDED, allow_private=True)
    assert isinstance(result, Fetched)
    assert failure(srv.url("/a.xml"), LIMITS, allow_private=False).category == "blocked"
    assert srv.count() == 1


def test_both_policies_work_within_one_fetcher(srv: FeedServer) -> None:
    srv.route("/a.xml", FEED)

    async def go() -> tuple[object, object]:
        async with Fetcher(GUARDED) as fetcher:
            allowed = await fetcher.fetch(srv.url("/a.xml"), allow_private=True)
            try:
                await fetcher.fetch(srv.url("/a.xml"))
            except FetchError as exc:
                return allowed, exc.category
            return allowed, None

    allowed, category = asyncio.run(go())
    assert isinstance(allowed, Fetched)
    assert category == "blocked"
    assert srv.count() == 1


ONLY_127_0_0_1 = AddressPolicy(allow_private=False, extra_allowed=frozenset({"127.0.0.1"}))


def test_policy_allowing_one_address_reaches_it(srv: FeedServer) -> None:
    srv.redirect("/start", "/feed.xml")
    srv.route("/feed.xml", FEED)
    result = run_fetch(srv.url("/start"), GUARDED, policy=ONLY_127_0_0_1)
    assert isinstance(result, Fetched)


def _other_server(host: str) -> FeedServer:
    try:
        return FeedServer(host=host).start()
    except OSError as exc:
        pytest.skip(f"cannot listen on {host}: {exc}")


@pytest.mark.parametrize(
    ("host", "location"),
    [
        ("127.0.0.2", "http://127.0.0.2:{port}/secret"),
        ("127.0.0.2", "http://2130706434:{port}/secret"),
        ("127.0.0.2", "http://0x7f000002:{port}/secret"),
        ("127.0.0.2", "http://127.2:{port}/secret"),
        ("::1", "http://[::1]:{port}/secret"),
        ("::1", "http://[::ffff:127.0.0.2]:{port}/secret"),
    ],
)
def test_redirect_hop_to_a_blocked_address_is_refused(srv: FeedServer, host: str, location: str) -> None:
    target = _other_server(host)
    try:
        target.route("/secret", b"secret")
        srv.redirect("/start", location.format(port=target.port))
        error = failure(srv.url("/start"), GUARDED, policy=ONLY_127_0_0_1)
        assert error.category == "blocked"
        assert srv.count("/start") == 1
        assert target.connections_accepted == 0
    finally:
        target.stop()


def test_redirect_hop_to_a_name_resolving_to_blocked_address_is_refused(srv: FeedServer) -> None:
    policy = AddressPolicy(allow_private=False, extra_allowed=frozenset({"127.0.0.2"}))
    with FeedServer(host="127.0.0.2") as start:
        start.redirect("/start", f"http://localhost:{srv.port}/secret")
        srv.route("/secret", b"secret")
        error = failure(start.url("/start"), GUARDED, policy=policy)
    assert error.category == "blocked"
    assert start.count("/start") == 1
    assert srv.connections_accepted == 0


BLOCKED = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.0.1",
    "100.64.0.1",
    "100.127.255.255",
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "198.18.0.1",
    "::",
    "::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::1",
    "2002:c0a8:101::1",
    "64:ff9b::7f00:1",
    "64:ff9b::a00:1",
    "2001:db8::1",
    "::127.0.0.1",
]
ALLOWED = [
    "8.8.8.8",
    "93.184.216.34",
    "1.1.1.1",
    "172.32.0.1",
    "100.128.0.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "2002:808:808::1",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize("address", BLOCKED)
def test_is_blocked_address_blocks(address: str) -> None:
    assert is_blocked_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_is_blocked_address_allows_public(address: str) -> None:
    assert not is_blocked_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7F.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("example.com", None),
        ("0x7g.0.0.1", None),
        ("1.2.3.4.5", None),
    ],
)
def test_literal_address_normalises_legacy_forms(host: str, expected: str | None) -> None:
    found = literal_address(host)
    assert (str(found) if found is not None else None) == expected


def test_check_target_refuses_schemes_hosts_and_literals() -> None:
    strict = AddressPolicy()
    for url in ["ftp://example.com/", "http://10.0.0.1/", "http://0x0a000001/", "https://[fd00::1]/"]:
        with pytest.raises(FetchError) as info:
            check_target(URL(url), strict)
        assert info.value.category == "blocked"
    check_target(URL("https://example.com/feed"), strict)
    check_target(URL("http://10.0.0.1/"), AddressPolicy(allow_private=True))


class _FakeResolver(AbstractResolver):
    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if not self.addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        return None


def _resolve(policy: AddressPolicy, inner: AbstractResolver | None, host: str) -> list[str]:
    async def go() -> list[str]:
        resolver = GuardedResolver(policy, inner if inner is not None else ThreadedResolver())
        return [r["host"] for r in await resolver.resolve(host, 80)]

    return asyncio.run(go())


def test_resolver_drops_blocked_addresses() -> None:
    inner = _FakeResolver(["10.0.0.1", "93.184.216.34", "::1", "2606:4700::1"])
    assert _resolve(AddressPolicy(), inner, "mixed.example") == ["93.184.216.34", "2606:4700::1"]
    assert len(_resolve(AddressPolicy(allow_private=True), inner, "mixed.example")) == 4


def test_resolver_refuses_names_with_only_blocked_addresses() -> None:
    with pytest.raises(HostBlockedError):
        _resolve(AddressPolicy(), _FakeResolver(["127.0.0.1", "169.254.169.254"]), "evil.example")


def test_resolver_reports_unresolvable_names() -> None:
    with pytest.raises(HostUnresolvableError):
        _resolve(AddressPolicy(), _FakeResolver([]), "nothing.example")


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1", "localhost"])
def test_resolver_path_catches_legacy_forms_that_reach_dns(host: str) -> None:
    with pytest.raises(HostBlockedError):
        _resolve(AddressPolicy(), None, host)
