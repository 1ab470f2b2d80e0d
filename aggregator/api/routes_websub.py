"""``POST /websub``: the hub's subscription endpoint. The form is read (bounded), checked
(``websub.intents``), its topic mapped to one of this server's feeds (``topics``), and the
intent recorded with the topic's ETag now; the answer is 202 and the callback is asked to
confirm later by the hub's worker (``aggregator push``, or the poller after a run), never here.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response

from ..errors import NotFoundError, QueryError
from ..store.common import transaction
from ..store.slices import select_slice
from ..store.websub import request_intent
from ..topics import HUB_PATH, topic_view
from ..websub.intents import KNOWN, parse_intent
from .deps import SettingsDep

MAX_FORM_BYTES = 8 * 1024
FORM = "application/x-www-form-urlencoded"

router = APIRouter()


@router.post(HUB_PATH, status_code=202, include_in_schema=False)
async def websub(request: Request, s: SettingsDep) -> Response:
    if not s.config.websub.enabled:
        raise NotFoundError("this server runs no WebSub hub")
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        raise HTTPException(415, f"the body must be {FORM}")
    body = await _read_form(request)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=len(KNOWN) + 1)
    except (UnicodeDecodeError, ValueError):
        raise QueryError("body", "not a UTF-8 form of at most five parameters") from None
    intent = parse_intent(pairs, s.config.websub)
    now = s.clock()
    view = topic_view(s.config, intent.topic, str(request.base_url), now)

    def record() -> bool:
        with transaction(s.engine) as conn:
            found = select_slice(conn, view.page_filter, after=view.cursor)
            etag = view.etag(found) if intent.mode == "subscribe" else None
            return request_intent(
                conn,
                intent.mode,
                intent.topic,
                intent.callback,
                secret=intent.secret,
                lease_seconds=intent.lease_seconds,
                etag=etag,
                now=now,
            )

    await run_in_threadpool(record)
    return PlainTextResponse(
        f"{intent.mode} accepted: the callback will be asked to confirm",
        status_code=202,
        headers={"X-Content-Type-Options": "nosniff"},
    )


async def _read_form(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, f"the form is larger than {MAX_FORM_BYTES} bytes")
    return body
