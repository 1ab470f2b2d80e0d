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
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from ..feedcache import Rendered

PREFIX = "/feeds/"


@dataclass(frozen=True)
class Answer:
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

    def record(self, scope: Scope, entry: Rendered, headers: dict[str, str], media_type: str) -> None:
        bare = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()]
        full = [*bare, (b"content-type", media_type.encode()), (b"content-length", b"%d" % len(entry.body))]
        answer = Answer(entry.data_version, entry.etag.encode(), full, bare, entry.body)
        with self._lock:
            self._entries[request_key(scope)] = answer
            self._entries.move_to_end(request_key(scope))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def find(self, scope: Scope) -> Answer | None:
        return self._entries.get(request_key(scope))


class FeedFastPath:
    """Answers a GET of a feed URL from ``Answers`` while its data version holds."""

    def __init__(self, app: ASGIApp, answers: Answers, fresh_version: Callable[[], int | None]) -> None:
        self.app = app
        self.answers = answers
        self.fresh_version = fresh_version

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
        if if_none_match is not None:
            if if_none_match.strip() != answer.etag:
                return False  # lists, weak tags and "*" are the route's to decide
            await send({"type": "http.response.start", "status": 304, "headers": answer.bare})
            await send({"type": "http.response.body", "body": b""})
            return True
        await send({"type": "http.response.start", "status": 200, "headers": answer.full})
        await send({"type": "http.response.body", "body": answer.body})
        return True
