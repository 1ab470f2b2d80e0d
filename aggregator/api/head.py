"""HEAD on every GET route: ``HeadAsGet``, the middleware that answers a HEAD
request with the status and headers the same GET would get (conditional
requests and 304s included) and no body. Which routes exist belongs to the
route modules; refusals before routing to ``errors.RequestGuard``.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_MESSAGES = ("http.response.body", "http.response.pathsend", "http.response.zerocopysend")


class HeadAsGet:
    """Runs a HEAD request as a GET and sends its response start, then an empty body.

    Content-Length stays that of the GET body, as RFC 9110 allows for HEAD, and a
    route never has to know about HEAD: FastAPI routes answer GET only, so without
    this a HEAD on them would get 405.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        finished = False

        async def send_head(message: Message) -> None:
            nonlocal finished
            if message["type"] not in BODY_MESSAGES:
                await send(message)
            elif not message.get("more_body", False) and not finished:
                finished = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET"}, receive, send_head)
