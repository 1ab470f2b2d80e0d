"""Pure: the byte signatures a body is recognized by, shared by fetching (decoding) and parsing."""

from __future__ import annotations

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(data: bytes) -> bool:
    """True when ``data`` starts like a gzip member."""
    return data.startswith(GZIP_MAGIC)
