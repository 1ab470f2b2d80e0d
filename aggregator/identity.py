"""Pure identity rules: canonical links, item keys, hosts and tag normalization.

Nothing here does I/O. Two feeds that mention the same article must produce
the same key, and two spellings of the same tag the same name.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi"}
)
TRACKING_PREFIXES = ("utm_",)
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_TAG = 100
_SPACES = re.compile(r"\s+")


def is_tracking_param(name: str) -> bool:
    """True for query parameters that only track the reader (utm_*, fbclid, gclid, ...)."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonical_link(url: str | None) -> str | None:
    """Canonical form of an http(s) link, or ``None`` when it is not one.

    Scheme and host are lower-cased, a default port and the fragment dropped,
    tracking parameters removed; the path and the other parameters are kept
    as given (their order can matter to the site).
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not is_tracking_param(k)]
        if len(kept) != len(pairs):
            query = urlencode(kept)
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def link_host(url: str | None) -> str | None:
    """The lower-cased host of a link, without a trailing dot."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.rstrip(".").lower() if host else None


def normalize_host(value: str) -> str:
    """Normalize a host given by a user (``Deeeet.COM.``, ``www.example.org``)."""
    host = unicodedata.normalize("NFKC", value).strip().lower().rstrip(".")
    return host


def hash_text(value: str) -> str:
    """Stable hex digest used for keys and fingerprints."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def item_key(link: str | None, guid: str | None, raw_hash: str, source_id: int) -> str:
    """The identity of an entry: canonical link, else the source-scoped guid, else a content hash.

    ``http`` and ``https`` links to the same page are one item: the key uses https.
    """
    canonical = canonical_link(link)
    if canonical:
        return "https://" + canonical[len("http://") :] if canonical.startswith("http://") else canonical
    if guid:
        return f"guid:{source_id}:{guid}"
    return f"hash:{source_id}:{raw_hash}"


def fold_tag(value: str) -> str:
    """Unicode NFKC, case-folded, trimmed, inner whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    return _SPACES.sub(" ", folded).strip()[:MAX_TAG]


def normalize_tag(value: str, aliases: Mapping[str, str] | None = None) -> str:
    """The stored name of a tag: folded, then mapped through the aliases (already folded)."""
    folded = fold_tag(value)
    if aliases:
        return aliases.get(folded, folded)
    return folded


def fold_aliases(raw: Mapping[str, str]) -> dict[str, str]:
    """Fold both sides of an alias table so lookups use the stored form."""
    return {fold_tag(k): fold_tag(v) for k, v in raw.items() if fold_tag(k) and fold_tag(v)}


def display_tag(value: str) -> str:
    """The display form of a tag: as the feed wrote it, trimmed and NFC-normalized."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", value)).strip()[:MAX_TAG]
