"""``store.tokens``: a token opens its own output only, is stored as its SHA-256, and its use is
recorded at most once an hour."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from aggregator.models import AccessToken, table_of
from aggregator.store.common import connect, transaction
from aggregator.store.tokens import create_token, find_token, list_tokens, record_use, revoke_token

TOKEN = table_of(AccessToken)
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_a_token_opens_its_own_output_and_nothing_else(engine: Engine) -> None:
    with transaction(engine) as conn:
        first_id, first = create_token(conn, "reading-list", NOW)
        _, other = create_token(conn, "other-list", NOW)
    with connect(engine) as conn:
        stored = conn.execute(select(TOKEN.c.token_hash).where(TOKEN.c.id == first_id)).scalar_one()
        found = find_token(conn, "reading-list", first, NOW)
        refused = [
            find_token(conn, "reading-list", candidate, NOW)
            for candidate in (None, "", other, first[:-1], first + "x", first.upper(), "x" * 10_000)
        ]
    assert stored == hashlib.sha256(first.encode()).hexdigest()
    assert found is not None and found.id == first_id
    assert refused == [None] * 7


def test_a_use_is_recorded_at_most_once_an_hour(engine: Engine) -> None:
    with transaction(engine) as conn:
        token_id, token = create_token(conn, "reading-list", NOW)
    with connect(engine) as conn:
        first = find_token(conn, "reading-list", token, NOW)
    assert first is not None and first.stale
    with transaction(engine) as conn:
        record_use(conn, token_id, NOW)
    with connect(engine) as conn:
        soon = find_token(conn, "reading-list", token, NOW + timedelta(minutes=59))
        later = find_token(conn, "reading-list", token, NOW + timedelta(hours=1))
        listed = list_tokens(conn)
    assert soon is not None and not soon.stale
    assert later is not None and later.stale
    assert [(t.id, t.output, t.created_at, t.last_used_at) for t in listed] == [
        (token_id, "reading-list", NOW, NOW)
    ]


def test_a_revoked_token_is_gone(engine: Engine) -> None:
    with transaction(engine) as conn:
        token_id, token = create_token(conn, "reading-list", NOW)
    with transaction(engine) as conn:
        assert revoke_token(conn, token_id)
        assert not revoke_token(conn, token_id)
    with connect(engine) as conn:
        assert find_token(conn, "reading-list", token, NOW) is None
        assert list_tokens(conn) == []
