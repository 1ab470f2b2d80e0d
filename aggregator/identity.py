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

import idna

TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi"}
)
TRACKING_PREFIXES = ("utm_",)
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_TAG = 100
_SPACES = re.compile(r"\s+")
# Fragments that only point into a page (a section to scroll to, the comments, a "read more"
# jump) or track the click. Any other fragment tells entries apart: diary anchors (#p2),
# Scripting News' #a080605, a comment feed's #comment-12.
NAVIGATION_FRAGMENTS = frozenset(
    {
        "top", "comments", "respond", "more", "readmore", "read-more", "continue", "content",
        "main", "main-content", "maincontent", "disqus_thread", "article", "page", "start",
    }
)  # fmt: skip
_NAVIGATION_PATTERNS = re.compile(r"more-\d+|(utm_|xtor=|at_|ref=|\.)\S*", re.IGNORECASE)


def is_tracking_param(name: str) -> bool:
    """True for query parameters that only track the reader (utm_*, fbclid, gclid, ...)."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def significant_fragment(fragment: str) -> str:
    """The fragment when it tells entries apart, ``""`` when it only points into a page.

    A text directive (``#:~:text=...``) is dropped; ``#top``, ``#comments``,
    ``#more-12`` and tracking fragments (``#utm_source=...``, ``#.Xa1b``) point into a page.
    """
    fragment = fragment.split(":~:", 1)[0]
    if fragment.lower() in NAVIGATION_FRAGMENTS or _NAVIGATION_PATTERNS.fullmatch(fragment):
        return ""
    return fragment


def canonical_host(host: str) -> str:
    """A host in the one spelling keys and filters use: lower case, no trailing dot, IDNA (punycode).

    ``例え.jp``, ``XN--R8JZ45G.jp.`` and ``ｘｎ--r8jz45g.jp`` are all ``xn--r8jz45g.jp``.
    A host that IDNA refuses (an underscore, a bad A-label) is kept lower-cased.
    """
    host = host.strip().rstrip(".")
    if host.isascii():
        return host.lower()
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        return unicodedata.normalize("NFKC", host).lower()


def display_host(host: str) -> str:
    """A stored (IDNA) host as a reader writes it: ``xn--r8jz45g.jp`` is shown as ``例え.jp``."""
    if "xn--" not in host:
        return host
    try:
        return idna.decode(host)
    except idna.IDNAError:
        return host


def canonical_link(url: str | None, *, keep_fragment: bool = True) -> str | None:
    """Canonical form of an http(s) link, or ``None`` when it is not one.

    Scheme and host are lower-cased (the host in IDNA form), a default port and a
    trailing dot dropped, tracking parameters removed; the fragment is kept only when
    it tells entries apart (``significant_fragment``). The path and the other
    parameters are kept as given (their order can matter to the site).
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = canonical_host(parts.hostname or "")
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
    fragment = significant_fragment(parts.fragment) if keep_fragment else ""
    return urlunsplit((scheme, netloc, parts.path or "/", query, fragment))


def link_host(url: str | None) -> str | None:
    """The canonical host of a link (``canonical_host``), or ``None``."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return canonical_host(host) or None if host else None


def site_key(host: str | None) -> str | None:
    """A canonical host's labels reversed and dot-terminated: ``blog.deeeet.com`` is ``com.deeeet.blog.``.

    A host and its subdomains share the prefix of the host's key (``site_key_range``),
    so "this site" is one range of an index.
    """
    if not host:
        return None
    return ".".join(reversed(host.split("."))) + "."


def site_key_range(host: str) -> tuple[str, str]:
    """Bounds ``[low, high)`` of the site keys of ``host`` and its subdomains (compared bytewise).

    Every key in it starts with ``site_key(host)``: ``/`` is the character after ``.``.
    """
    low = site_key(host) or "."
    return low, low[:-1] + "/"


def normalize_host(value: str) -> str:
    """Normalize a host given by a user (``Deeeet.COM.``, ``例え.jp``, ``www.example.org``)."""
    return canonical_host(unicodedata.normalize("NFKC", value))


def hash_text(value: str) -> str:
    """Stable hex digest used for keys and fingerprints."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def item_key(link: str | None, guid: str | None, raw_hash: str, source_id: int) -> str:
    """The natural key of an entry: canonical link, else the source-scoped guid, else a content hash.

    Any feed that links to the same page (and the same significant fragment) gives the
    same key; ``http`` and ``https`` links are one item: the key uses https. Whether an
    entry really takes this key is decided against what is stored (``keys.assign_keys``).
    """
    canonical = canonical_link(link)
    if canonical:
        return _https(canonical)
    return scoped_key(link, guid, raw_hash, source_id)


def page_key(key: str) -> str | None:
    """The page a link key names, without its fragment; ``None`` for a source-scoped key."""
    if not key.startswith("https://"):
        return None
    return key.split("#", 1)[0]


def scoped_key(link: str | None, guid: str | None, raw_hash: str, source_id: int) -> str:
    """A key that only this source's entry can have: its guid, else its content hash."""
    if guid:
        return f"guid:{source_id}:{guid}"
    return f"hash:{source_id}:{raw_hash}"


def legacy_key(link: str | None, guid: str | None, raw_hash: str, source_id: int) -> str:
    """The key an earlier release gave this entry (fragment always dropped, host as spelled).

    Used once per stored item, to recognise items a database made before the
    fragment rule already holds.
    """
    try:
        parts = urlsplit((link or "").strip())
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return scoped_key(link, guid, raw_hash, source_id)
    if parts.scheme.lower() not in DEFAULT_PORTS or not host:
        return scoped_key(link, guid, raw_hash, source_id)
    canonical = canonical_link(link, keep_fragment=False)
    assert canonical is not None
    old_host = f"[{host}]" if ":" in host else host
    netloc = old_host if port in (None, DEFAULT_PORTS[parts.scheme.lower()]) else f"{old_host}:{port}"
    rest = urlsplit(canonical)
    return _https(urlunsplit((rest.scheme, netloc, rest.path, rest.query, "")))


def entry_identity(guid: str | None, link: str | None, title: str, raw_hash: str) -> str:
    """What tells one entry of a feed from another, as a feed reader sees it.

    The entry's id (guid), else its link, else its title, else its content.
    """
    if guid:
        return "id:" + guid
    if link:
        return "link:" + link
    if title:
        return "title:" + title
    return "hash:" + raw_hash


def _https(canonical: str) -> str:
    return "https://" + canonical[len("http://") :] if canonical.startswith("http://") else canonical


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
