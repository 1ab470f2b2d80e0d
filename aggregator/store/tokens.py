"""Access tokens of private outputs: create one (the token itself is returned once), list them,
revoke one, and find which token a request presented.

A token is ``secrets.token_urlsafe(32)``: 256 random bits. Only its SHA-256 is stored: a fast,
unsalted hash is enough for a secret of that entropy (no dictionary or brute force reaches it)
and lets a token be found by its hash in one index lookup; the hash found is compared again
in constant time (``hmac.compare_digest``), together with the output it opens. The token never
leaves this module except to the one who created it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from ..models import AccessToken, table_of
from .common import wrap_storage_errors

TOKEN = table_of(AccessToken)
TOKEN_BYTES = 32
MAX_TOKEN = 200  # longer is no token of ours: not even hashed
USE_PRECISION = timedelta(hours=1)  # ``last_used_at`` is written at most this often per token


@dataclass(frozen=True)
class TokenView:
    """A token as listed: never the token itself."""

    id: int
    output: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class TokenUse:
    """A token a request presented that opens the output: its id, and whether to record the use."""

    id: int
    stale: bool  # ``last_used_at`` is older than ``USE_PRECISION``: worth a write


def hash_token(token: str) -> str:
    """The stored form of a token: SHA-256 (enough for 256 random bits; see the module docstring)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@wrap_storage_errors()
def create_token(conn: Connection, output: str, now: datetime) -> tuple[int, str]:
    """A new token for ``output``: its id and the token, which is not stored and cannot be shown again."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = {"output": output, "token_hash": hash_token(token), "created_at": now}
    token_id = conn.execute(insert(TOKEN).values(**row).returning(TOKEN.c.id)).scalar_one()
    return int(token_id), token


@wrap_storage_errors()
def list_tokens(conn: Connection) -> list[TokenView]:
    """Every token, by output then id."""
    query = select(TOKEN.c.id, TOKEN.c.output, TOKEN.c.created_at, TOKEN.c.last_used_at)
    return [TokenView(*row) for row in conn.execute(query.order_by(TOKEN.c.output, TOKEN.c.id))]


@wrap_storage_errors()
def revoke_token(conn: Connection, token_id: int) -> bool:
    """Delete a token: the next request that presents it is refused. False: no such token."""
    return bool(conn.execute(delete(TOKEN).where(TOKEN.c.id == token_id)).rowcount)


@wrap_storage_errors()
def find_token(conn: Connection, output: str, token: str | None, now: datetime) -> TokenUse | None:
    """The token ``token`` if it opens ``output``, else None (missing, wrong, revoked, another output's)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    wanted = hash_token(token)
    row = conn.execute(
        select(TOKEN.c.id, TOKEN.c.output, TOKEN.c.token_hash, TOKEN.c.last_used_at).where(
            TOKEN.c.token_hash == wanted
        )
    ).first()
    if row is None:
        return None
    same = hmac.compare_digest(row.token_hash, wanted) & hmac.compare_digest(row.output, output)
    if not same:
        return None
    return TokenUse(int(row.id), row.last_used_at is None or now - row.last_used_at >= USE_PRECISION)


@wrap_storage_errors()
def record_use(conn: Connection, token_id: int, now: datetime) -> None:
    """Note when a token was last used (``TokenUse.stale`` says when it is worth it)."""
    conn.execute(update(TOKEN).where(TOKEN.c.id == token_id).values(last_used_at=now))
