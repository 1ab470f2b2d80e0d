"""Fetching against the local FeedServer: limits, and shortcuts that run one fetch and return its outcome."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from dataclasses import replace

import pytest

from aggregator.errors import FetchError
from aggregator.fetch import (
    AddressPolicy,
    Fetched,
    Fetcher,
    FetchLimits,
    NotModified,
    Validators,
)

MIB = 1024 * 1024
LIMITS = FetchLimits(connect_timeout=2.0, total_timeout=5.0, max_bytes=MIB, allow_private=True)
TIGHT = replace(LIMITS, total_timeout=1.0)
GUARDED = replace(LIMITS, allow_private=False)
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
NO_VALIDATORS = Validators()


def run_fetch(
    url: str,
    limits: FetchLimits = LIMITS,
    validators: Validators = NO_VALIDATORS,
    *,
    allow_private: bool | None = None,
    policy: AddressPolicy | None = None,
) -> Fetched | NotModified:
    async def go() -> Fetched | NotModified:
        async with Fetcher(limits, address_policy=policy) as fetcher:
            return await fetcher.fetch(url, validators, allow_private=allow_private)

    return asyncio.run(go())


def fetched(url: str, limits: FetchLimits = LIMITS, validators: Validators = NO_VALIDATORS) -> Fetched:
    result = run_fetch(url, limits, validators)
    assert isinstance(result, Fetched)
    return result


def not_modified(url: str, validators: Validators = NO_VALIDATORS) -> NotModified:
    result = run_fetch(url, LIMITS, validators)
    assert isinstance(result, NotModified)
    return result


def failure(
    url: str,
    limits: FetchLimits = LIMITS,
    *,
    allow_private: bool | None = None,
    policy: AddressPolicy | None = None,
) -> FetchError:
    with pytest.raises(FetchError) as info:
        run_fetch(url, limits, allow_private=allow_private, policy=policy)
    return info.value


def timed_failure(url: str, limits: FetchLimits = TIGHT) -> tuple[FetchError, float]:
    started = time.monotonic()
    error = failure(url, limits)
    return error, time.monotonic() - started


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def gzip_bomb_members(total: int, member: int = MIB) -> bytes:
    one = gz(bytes(member))
    return one * (total // member)


def compress_zeros(size: int, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(MIB)
    parts = [packer.compress(block) for _ in range(size // MIB)]
    return b"".join([*parts, packer.flush()])
