"""The hub's only network code: the verification GET and the content-distribution POST to a
subscriber's callback, each guarded like a feed fetch (``fetch.guard``: scheme and literal
address checked, every resolved address filtered), within one deadline, never following a
redirect, reading at most ``MAX_REPLY_BYTES`` of the reply. ``signature`` is the
``X-Hub-Signature`` of a body. Which subscription gets what belongs to ``hub``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from yarl import URL

from ..errors import FetchError
from ..fetch.guard import AddressPolicy, GuardedResolver, check_target
from ..topics import RenderedTopic

MAX_REPLY_BYTES = 64 * 1024
USER_AGENT = "aggregator-websub-hub"


@dataclass(frozen=True)
class Reply:
    """What a callback answered; ``error`` says why it did not (refused, timed out, blocked)."""

    status: int | None
    body: bytes = b""
    error: str | None = None

    @property
    def is_success(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        return self.error or f"HTTP {self.status}"


def signature(secret: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``body`` keyed by ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verification_url(callback: str, params: dict[str, str]) -> URL:
    """The callback with the verification parameters added to any query it has."""
    return URL(callback).update_query(params)


class Callbacks:
    """Requests to subscribers' callbacks; use as ``async with Callbacks(...) as c``."""

    def __init__(self, *, timeout: float, allow_private: bool, concurrency: int) -> None:
        self.timeout = timeout
        self.policy = AddressPolicy(allow_private=allow_private)
        self.resolver = GuardedResolver(self.policy)
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency, resolver=self.resolver, ssl=True),
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    async def __aenter__(self) -> Callbacks:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.session.close()
        await self.resolver.close()

    async def verify(self, callback: str, params: dict[str, str]) -> Reply:
        """GET the callback with the verification ``params``."""
        return await self._request("GET", verification_url(callback, params), None, {})

    async def deliver(self, callback: str, topic: RenderedTopic, secret: str | None) -> Reply:
        """POST the topic's document to the callback, signed when the subscriber gave a secret."""
        headers = {"Content-Type": topic.media_type, "Link": topic.link_header}
        if secret is not None:
            headers["X-Hub-Signature"] = signature(secret, topic.body)
        return await self._request("POST", URL(callback), topic.body, headers)

    async def _request(self, method: str, url: URL, body: bytes | None, headers: dict[str, str]) -> Reply:
        try:
            check_target(url, self.policy)
            async with (
                asyncio.timeout(self.timeout),
                self.session.request(method, url, data=body, headers=headers, allow_redirects=False) as resp,
            ):
                content = await resp.content.read(MAX_REPLY_BYTES)
                return Reply(resp.status, content)
        except FetchError as exc:
            return Reply(None, error=str(exc))
        except TimeoutError:
            return Reply(None, error=f"no answer within {self.timeout}s")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Reply(None, error=f"{type(exc).__name__}: {exc}"[:300])
