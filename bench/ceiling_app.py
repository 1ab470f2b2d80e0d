"""The ceilings for ``bench/hotfeed.py``: apps that return fixed bytes and nothing else.

``fastapi``: one ``async def`` FastAPI route answering every path with the bytes
of a feed, its ETag, and 304 on a matching ``If-None-Match``. ``asgi``: the same
as a bare ASGI callable, with no framework at all. The body and ETag are read
from the files named by ``CEILING_BODY`` and ``CEILING_ETAG``.

    CEILING_BODY=feed.xml CEILING_ETAG=etag.txt python bench/ceiling_app.py fastapi PORT
"""

import os
import sys
from pathlib import Path
from typing import Any

BODY = Path(os.environ.get("CEILING_BODY", "/dev/null")).read_bytes()
ETAG = Path(os.environ.get("CEILING_ETAG", "/dev/null")).read_text().strip()
MEDIA = "application/atom+xml; charset=utf-8"


def fastapi_app() -> Any:
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

    app = FastAPI()
    headers = {"ETag": ETAG, "Cache-Control": "public, max-age=300"}

    @app.get("/{path:path}")
    async def fixed(path: str, request: Request) -> Response:
        if request.headers.get("if-none-match") == ETAG:
            return Response(status_code=304, headers=headers)
        return Response(BODY, media_type=MEDIA, headers=headers)

    return app


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    etag = ETAG.encode()
    matched = any(name == b"if-none-match" and value == etag for name, value in scope["headers"])
    headers = [(b"etag", etag), (b"cache-control", b"public, max-age=300")]
    if matched:
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    headers += [(b"content-type", MEDIA.encode()), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    import uvicorn

    kind, port = sys.argv[1], int(sys.argv[2])
    app = fastapi_app() if kind == "fastapi" else asgi_app
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", server_header=False)


if __name__ == "__main__":
    main()
