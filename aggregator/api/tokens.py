"""The token of a private output: read from the request (``?token=`` or ``Authorization: Bearer``)
and checked against storage on every request, so a revoked token stops working at once. A
missing or wrong token gets the very 404 of an unknown feed (``unknown_feed``): a private
output cannot be told from one that does not exist. Tokens themselves are ``store.tokens``.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from ..errors import NotFoundError, StorageError
from ..store.common import transaction
from ..store.tokens import find_token, record_use
from .deps import Settings, read_connection

log = logging.getLogger("aggregator.api")
TOKEN_PARAM = "token"


def unknown_feed(slug: str) -> NotFoundError:
    """The error of a feed that does not exist (or that this request may not see)."""
    return NotFoundError(f"no feed named {slug[:60]!r}")


def presented_token(request: Request) -> str | None:
    """The token of ``?token=`` (given once), else of ``Authorization: Bearer``; None: no token."""
    given = request.query_params.getlist(TOKEN_PARAM)
    if len(given) == 1:
        return given[0]
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def require_token(s: Settings, request: Request, slug: str) -> None:
    """Pass when the request presents a live token of output ``slug``.

    Raises:
        NotFoundError: no token, a wrong or revoked one, or another output's (the unknown feed's 404).
    """
    token = presented_token(request)
    if not await run_in_threadpool(_check, s, slug, token):
        raise unknown_feed(slug)


def _check(s: Settings, slug: str, token: str | None) -> bool:
    now = s.clock()
    with read_connection(s) as conn:
        use = find_token(conn, slug, token, now)
    if use is None:
        return False
    if use.stale:
        try:
            with transaction(s.engine) as conn:
                record_use(conn, use.id, now)
        except StorageError as exc:  # the answer does not depend on it
            log.warning("cannot record the use of token %d: %s", use.id, exc)
    return True
