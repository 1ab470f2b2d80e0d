"""Pure: a ``POST /websub`` form read into an ``Intent``, every parameter checked.

``hub.mode`` (subscribe or unsubscribe), ``hub.topic`` (checked against this server's feeds
by ``topics.topic_view``, not here), ``hub.callback`` (an absolute http(s) URL with no
credentials; a literal private or loopback address only when the hub allows them), an
optional ``hub.lease_seconds`` within the hub's bounds and an optional ``hub.secret`` under
200 bytes. A parameter given twice, or one this hub does not know, is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from yarl import URL

from ..config import WebSubConfig
from ..errors import FetchError, QueryError
from ..fetch.guard import AddressPolicy, check_target
from ..store.websub import Mode

MAX_URL_CHARS = 2048
MAX_SECRET_BYTES = 199  # the recommendation: less than 200 bytes
KNOWN = frozenset({"hub.mode", "hub.topic", "hub.callback", "hub.lease_seconds", "hub.secret"})
MODES: tuple[Mode, ...] = ("subscribe", "unsubscribe")


@dataclass(frozen=True)
class Intent:
    """A subscriber's request, checked; what it asks for is verified with the callback later."""

    mode: Mode
    topic: str
    callback: str
    lease_seconds: int
    secret: str | None


def parse_intent(pairs: Sequence[tuple[str, str]], settings: WebSubConfig) -> Intent:
    """The intent a form's ``pairs`` state.

    Raises:
        QueryError: a parameter missing, repeated, unknown or not valid (``param`` names it).
    """
    form: dict[str, str] = {}
    for name, value in pairs:
        if name not in KNOWN:
            raise QueryError(name[:40], "not a parameter of this hub")
        if name in form:
            raise QueryError(name, "given more than once")
        form[name] = value
    mode = form.get("hub.mode")
    if mode not in MODES:
        raise QueryError("hub.mode", "must be subscribe or unsubscribe")
    topic = _required(form, "hub.topic")
    callback = check_callback(_required(form, "hub.callback"), settings.allow_private_networks)
    return Intent(mode, topic, callback, lease_seconds(form.get("hub.lease_seconds"), settings), secret(form))


def check_callback(url: str, allow_private: bool) -> str:
    """A subscriber's callback: absolute http(s), no credentials or fragment, an allowed literal address.

    Raises:
        QueryError: any of these is not so.
    """
    if len(url) > MAX_URL_CHARS or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise QueryError("hub.callback", f"must be a URL of at most {MAX_URL_CHARS} characters, no spaces")
    try:
        parts = urlsplit(url)
        parsed = URL(url)
    except ValueError:
        raise QueryError("hub.callback", "not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise QueryError("hub.callback", "must be an absolute http or https URL")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise QueryError("hub.callback", "must carry no credentials and no fragment")
    try:
        check_target(parsed, AddressPolicy(allow_private=allow_private))
    except FetchError:
        raise QueryError("hub.callback", "private, loopback and reserved addresses are not allowed") from None
    return url


def lease_seconds(value: str | None, settings: WebSubConfig) -> int:
    """The lease asked for, within ``[min_lease, max_lease]``; absent: the default.

    Raises:
        QueryError: not a whole number of seconds, or outside the bounds.
    """
    if value is None or value == "":
        return settings.default_lease
    if not value.isdigit() or len(value) > 10:
        raise QueryError("hub.lease_seconds", "must be a whole number of seconds")
    seconds = int(value)
    if not settings.min_lease <= seconds <= settings.max_lease:
        raise QueryError(
            "hub.lease_seconds", f"must be from {settings.min_lease} to {settings.max_lease} seconds"
        )
    return seconds


def secret(form: dict[str, str]) -> str | None:
    value = form.get("hub.secret")
    if value is None or value == "":
        return None
    if len(value.encode()) > MAX_SECRET_BYTES:
        raise QueryError("hub.secret", f"must be under 200 bytes (at most {MAX_SECRET_BYTES})")
    return value


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise QueryError(name, "required")
    return value
