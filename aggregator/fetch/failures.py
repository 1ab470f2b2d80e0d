"""Mapping what goes wrong in a fetch onto one ``FetchError`` category.

Here: exceptions from aiohttp, ssl and the OS (``classify``) and non-2xx
statuses with their ``Retry-After`` (``status_error``) become a ``FetchError``
with a category and a one-line message. Not here: deciding to fail (the
guard, the decoders and the client raise their own ``FetchError``), or the
deadline, which the client checks first.
"""

from __future__ import annotations

import socket
import ssl
from datetime import datetime

import aiohttp

from ..errors import FetchError
from .guard import HostBlockedError, HostUnresolvableError
from .retry import parse_retry_after

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


def classify(exc: BaseException) -> FetchError:
    """The ``FetchError`` an unexpected exception from a fetch stands for."""
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


def status_error(resp: aiohttp.ClientResponse, cap: float, now: datetime) -> FetchError:
    """The ``FetchError`` for a final response that is neither 2xx nor 304; ``now`` dates ``Retry-After``."""
    retry = parse_retry_after(resp.headers.get("Retry-After"), now, cap)
    return FetchError(
        f"HTTP {resp.status} {resp.reason or ''}".rstrip() + f" from {resp.url}",
        category=_status_category(resp.status),
        status=resp.status,
        retry_after=retry,
    )
