"""Feeds answered before routing: ``FeedFastPath`` and the ``Answers`` it keeps.

A feed route that has rendered (or found) a slice records its answer here, by
the exact request it answered (scheme, host, path and query: the feed's self
link depends on all four) and the data version it was built at. The next GET
of the same URL, while the data version holds (``store.versions``), is
answered by the middleware from prepared header lists: no routing, no
parameter parsing, no response object, no database work; ``If-None-Match``
is compared first and a match gets its 304. Anything else (a new URL, a new
version, any other method, a conditional header this path does not decide)
goes to the routes, which answer as they always do and record again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ..feedcache import Rendered

if TYPE_CHECKING:
    from .deps import Settings

PREFIX = "/feeds/"


@dataclass(frozen=True)
class Answer:
    route: Any  # the route that answered, left in the scope as routing would (request metrics read it)
    data_version: int
    etag: bytes
    full: list[tuple[bytes, bytes]]  # headers of the 200
    bare: list[tuple[bytes, bytes]]  # headers of the 304
    body: bytes


def request_key(scope: Scope) -> bytes:
    host = next((value for name, value in scope["headers"] if name == b"host"), b"")
    return b" ".join((scope["scheme"].encode(), host, scope.get("raw_path") or b"", scope["query_string"]))


class Answers:
    """The last answer per feed URL, a bounded LRU shared by the routes and the middleware."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._entries: OrderedDict[bytes, Answer] = OrderedDict()
        self._lock = threading.Lock()
        self.served = 0  # requests answered from here

    def record(self, scope: Scope, entry: Rendered, headers: dict[str, str], media_type: str) -> None:
        bare = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()]
        full = [*bare, (b"content-type", media_type.encode()), (b"content-length", b"%d" % len(entry.body))]
        answer = Answer(scope.get("route"), entry.data_version, entry.etag.encode(), full, bare, entry.body)
        key = request_key(scope)
        with self._lock:
            self._entries[key] = answer
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def find(self, scope: Scope) -> Answer | None:
        return self._entries.get(request_key(scope))


class FeedFastPath:
    """Answers a GET of a feed URL from ``Answers`` while its data version holds."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.answers = settings.answers
        self.fresh_version = settings.versions.fresh
        self.cache = settings.cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith(PREFIX):
            answer = self.answers.find(scope)
            if answer is not None and await self._answer(answer, scope, send):
                return
        await self.app(scope, receive, send)

    async def _answer(self, answer: Answer, scope: Scope, send: Send) -> bool:
        if_none_match: bytes | None = None
        if_modified_since = False
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value
            elif name == b"if-modified-since":
                if_modified_since = True
        if if_modified_since and if_none_match is None:
            return False  # a date alone is the route's to compare
        if answer.data_version != self.fresh_version():
            return False
        scope["route"] = answer.route
        self.answers.served += 1
        self.cache.hits += 1  # answered from the slice cache's rendering, without asking it
        if if_none_match is not None:
            if if_none_match.strip() != answer.etag:
                return False  # lists, weak tags and "*" are the route's to decide
            await send({"type": "http.response.start", "status": 304, "headers": answer.bare})
            await send({"type": "http.response.body", "body": b""})
            return True
        await send({"type": "http.response.start", "status": 200, "headers": answer.full})
        await send({"type": "http.response.body", "body": answer.body})
        return True
