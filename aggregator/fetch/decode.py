"""Reading a response body within the size cap, decoding gzip and deflate ourselves.

Here: the identity, gzip (every member) and deflate (zlib or raw) decoders,
the refusal of stacked or unknown content codings, and ``read_body``, which
enforces both the cap on the bytes received and the cap on the decoded body.
Not here: status codes, redirects or conditional GET (``client``).
"""

from __future__ import annotations

import zlib
from typing import Protocol

import aiohttp
from multidict import CIMultiDictProxy

from ..errors import FetchError
from ..signatures import is_gzip

_CHUNK = 64 * 1024


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
        elif self._gzip and is_gzip(data):
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


async def read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The decoded body, at most ``limit`` bytes; raise ``FetchError`` past a cap or on a bad coding."""
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
