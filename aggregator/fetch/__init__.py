"""Fetching feed documents over HTTP: the only package that touches the network.

What belongs here, and nowhere else:

* ``client``: the ``Fetcher``, its aiohttp sessions and connection pools,
  conditional GET (``Validators`` in, ``NotModified`` out), manual redirect
  handling (scheme allowlist, hop limit, loop detection, permanent-redirect
  reporting) and one wall-clock deadline per fetch;
* ``guard``: the SSRF guard: ``is_blocked_address``, ``AddressPolicy``, the
  guarded DNS resolver and the IP-literal check made before every hop;
* ``decode``: a cap on the decoded body size and our own bounded gzip/deflate
  decoding;
* ``retry``: ``Retry-After`` parsing;
* ``failures``: mapping every failure onto a ``FetchError`` category;
* ``model``: ``FetchLimits``, ``Validators``, ``Fetched`` and ``NotModified``.

What does not belong here: feed parsing, storage, scheduling and back-off
decisions. Callers get a ``Fetched`` or a ``NotModified``, or a
``FetchError``; no other exception type leaves ``Fetcher.fetch``.
"""

from .client import ACCEPT, ACCEPT_ENCODING, PERMANENT_STATUSES, REDIRECT_STATUSES, Fetcher
from .guard import (
    ALLOWED_SCHEMES,
    AddressPolicy,
    GuardedResolver,
    HostBlockedError,
    HostUnresolvableError,
    IPAddress,
    check_target,
    is_blocked_address,
    literal_address,
)
from .model import DEFAULT_LIMITS, NO_VALIDATORS, Fetched, FetchLimits, NotModified, Validators
from .retry import parse_retry_after

__all__ = [
    "ACCEPT",
    "ACCEPT_ENCODING",
    "ALLOWED_SCHEMES",
    "DEFAULT_LIMITS",
    "NO_VALIDATORS",
    "PERMANENT_STATUSES",
    "REDIRECT_STATUSES",
    "AddressPolicy",
    "FetchLimits",
    "Fetched",
    "Fetcher",
    "GuardedResolver",
    "HostBlockedError",
    "HostUnresolvableError",
    "IPAddress",
    "NotModified",
    "Validators",
    "check_target",
    "is_blocked_address",
    "literal_address",
    "parse_retry_after",
]
