"""``store.common``: the error boundary. Every public store function, and the connections
``connect`` and ``transaction`` open, turn a database failure into ``StorageError``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

from aggregator.errors import StorageError
from aggregator.filters import Filter
from aggregator.identity import hash_text
from aggregator.ingest import Incoming, SourceInfo, Stored, WriteCounts, WritePlan
from aggregator.keys import lookup_hashes
from aggregator.models import Tag, table_of
from aggregator.query import Term
from aggregator.store import (
    archives,
    audience,
    common,
    copy,
    explain,
    filtersql,
    health,
    history,
    items,
    itemviews,
    keys,
    leases,
    locks,
    provenance,
    ranges,
    rekey,
    slices,
    sources,
    textindex,
    tokens,
    websub,
)
from aggregator.store.common import connect, transaction, wrap_storage_errors
from aggregator.store.sources import SourceUpdate

NOW = datetime(2026, 3, 1, tzinfo=UTC)
ENTRY = Incoming(
    key="https://example.org/a", key_hash=hash_text("https://example.org/a"), link="https://example.org/a",
    guid=None, title="a", summary=None, content=None, author=None, published=None, updated=None,
    site="example.org", bookmark_count=None, image=None, entry_hash=hash_text("link:https://example.org/a"),
)  # fmt: skip
UPDATE = SourceUpdate(
    last_polled_at=NOW,
    last_status="not_modified",
    last_http_status=304,
    next_poll_at=NOW,
    consecutive_errors=0,
    last_error=None,
    error_category=None,
)
SUBSCRIBED = websub.SubscriptionState(
    id=1, topic="https://h/feeds/all.atom", callback="https://cb/", active=True, secret=None, expires_at=None,
    etag=None, pending_mode="subscribe", pending_secret=None, pending_lease=60, attempts=0,
)  # fmt: skip
BOUNDARY_MODULES = (
    archives,
    audience,
    common,
    copy,
    explain,
    filtersql,
    health,
    history,
    items,
    itemviews,
    keys,
    leases,
    locks,
    provenance,
    ranges,
    rekey,
    slices,
    sources,
    textindex,
    websub,
    tokens,
)
NOT_WRAPPED = {"insert_for", "connect", "transaction"}  # builds a statement; the boundary itself

ON_CONNECTION: dict[str, Callable[[Connection], object]] = {
    "provenance.item_sightings": lambda c: provenance.item_sightings(c, 1),
    "common.tag_ids": lambda c: common.tag_ids(c, {"k8s"}),
    "sources.sync_sources": lambda c: sources.sync_sources(c, [], NOW),
    "sources.move_sources": lambda c: sources.move_sources(c, {"https://a.example/": "https://b.example/"}),
    "sources.add_sources": lambda c: sources.add_sources(c, [], "opml", NOW),
    "sources.due_sources": lambda c: sources.due_sources(c, NOW),
    "sources.next_due_time": lambda c: sources.next_due_time(c, NOW),
    "sources.record_poll": lambda c: sources.record_poll(c, 1, UPDATE),
    "slices.select_slice": lambda c: slices.select_slice(c, Filter()),
    "archives.select_first_seen": lambda c: archives.select_first_seen(c, Filter(), NOW, NOW),
    "archives.oldest_first_seen": lambda c: archives.oldest_first_seen(c, Filter()),
    "archives.has_first_seen_before": lambda c: archives.has_first_seen_before(c, Filter(), NOW),
    "slices.tag_counts": lambda c: slices.tag_counts(c),
    "slices.source_rows": lambda c: slices.source_rows(c),
    "slices.item_count": lambda c: slices.item_count(c),
    "provenance.item_provenance": lambda c: provenance.item_provenance(c, 1),
    "ranges.steer_sqlite": lambda c: ranges.steer_sqlite(
        c, ranges.ranges_of(Filter(sites=("a.example",))), 50
    ),
    "ranges.narrow_bound": lambda c: ranges.narrow_bound(c, 50),
    "ranges.rarest_first": lambda c: ranges.rarest_first(c, {"a": 1, "b": 2}, ("a", "b"), 50),
    "textindex.install_text_index": lambda c: textindex.install_text_index(c),
    "textindex.steer_text_sqlite": lambda c: textindex.steer_text_sqlite(c, "kubernetes", 50),
    "slices.slice_statement": lambda c: slices.slice_statement(
        c, Filter(tags=("k8s",), sites=("example.org",))
    ),
    "filtersql.compile_query": lambda c: filtersql.compile_query(c, Term("tag", "go", 0, "tag:go")),
    "explain.explain_item": lambda c: explain.explain_item(c, Filter(), "1"),
    "common.read_data_version": lambda c: common.read_data_version(c),
    "health.poll_health": lambda c: health.poll_health(c, NOW),
    "common.bump_data_version": lambda c: common.bump_data_version(c),
    "items.write_items": lambda c: items.write_items(c, SourceInfo(1, "feed"), [ENTRY], NOW),
    "items.load_tags": lambda c: items.load_tags(c, [1]),
    "items.apply_plan": lambda c: items.apply_plan(c, WritePlan(counts=WriteCounts(new=1)), Stored(), NOW),
    "items.rederive_tags": lambda c: items.rederive_tags(c, [1]),
    "keys.load_batch": lambda c: keys.load_batch(c, 1, lookup_hashes([ENTRY])),
    "rekey.upgrade_identity": lambda c: rekey.upgrade_identity(c),
    "rekey.upgrade_site_keys": lambda c: rekey.upgrade_site_keys(c),
    "history.record_points": lambda c: history.record_points(c, [(1, 1, 5)], NOW),
    "history.compact_history": lambda c: history.compact_history(c, NOW),
    "history.move_points": lambda c: history.move_points(c, 1, 2),
    "copy.count_rows": lambda c: copy.count_rows(c),
    "copy.empty_tables": lambda c: copy.empty_tables(c),
    "copy.copy_table": lambda c: copy.copy_table(c, c, table_of(Tag)),
    "copy.reset_counters": lambda c: copy.reset_counters(c),
    "websub.request_intent": lambda c: websub.request_intent(
        c,
        "subscribe",
        "https://h/feeds/all.atom",
        "https://cb/",
        secret=None,
        lease_seconds=60,
        etag=None,
        now=NOW,
    ),
    "websub.has_work": lambda c: websub.has_work(c),
    "audience.reclassify_items": lambda c: audience.reclassify_items(c, [1]),
    "itemviews.item_views": lambda c: itemviews.item_views(c, [{"id": 1}]),
    "tokens.create_token": lambda c: tokens.create_token(c, "reading-list", NOW),
    "tokens.list_tokens": lambda c: tokens.list_tokens(c),
    "tokens.revoke_token": lambda c: tokens.revoke_token(c, 1),
    "tokens.find_token": lambda c: tokens.find_token(c, "reading-list", "a-token", NOW),
    "tokens.record_use": lambda c: tokens.record_use(c, 1, NOW),
}
ON_ENGINE: dict[str, Callable[[Engine], object]] = {
    "locks.acquire": lambda e: locks.acquire(e, "poll", "me", 60.0, NOW),
    "locks.renew": lambda e: locks.renew(e, "poll", "me", 60.0, NOW),
    "locks.release": lambda e: locks.release(e, "poll", "me"),
    "leases.claim": lambda e: leases.claim(e, "me", NOW, 60.0, limit=10, per_host=2),
    "leases.renew": lambda e: leases.renew(e, "me", 60.0, NOW),
    "leases.release": lambda e: leases.release(e, "me"),
    "leases.clear": lambda e: leases.clear(e),
    "leases.join_sweep": lambda e: leases.join_sweep(e, "me", 60.0, NOW),
    "leases.renew_sweep": lambda e: leases.renew_sweep(e, NOW, 60.0, NOW),
    "leases.end_sweep": lambda e: leases.end_sweep(e, NOW),
    "websub.remove_expired": lambda e: websub.remove_expired(e, NOW),
    "websub.claim": lambda e: websub.claim(e, "me", NOW, 60.0, limit=10),
    "websub.record_verified": lambda e: websub.record_verified(e, SUBSCRIBED, "me", NOW, None),
    "websub.record_refused": lambda e: websub.record_refused(e, SUBSCRIBED, "me", "no echo"),
    "websub.record_delivered": lambda e: websub.record_delivered(e, 1, "me", '"e"'),
    "websub.record_failed": lambda e: websub.record_failed(e, 1, "me", 1, NOW, "HTTP 500"),
    "websub.drop": lambda e: websub.drop(e, 1, "me"),
    "websub.release": lambda e: websub.release(e, "me"),
}


@pytest.fixture
def broken(engine: Engine) -> Iterator[Engine]:
    """A database whose tables were dropped after it was opened."""
    SQLModel.metadata.drop_all(engine)
    yield engine


def assert_storage_error(caught: pytest.ExceptionInfo[StorageError]) -> None:
    assert isinstance(caught.value.__cause__, SQLAlchemyError)
    message = str(caught.value)
    assert message and "\n" not in message and "SELECT" not in message and "UPDATE" not in message


@pytest.mark.parametrize("name", ON_CONNECTION)
def test_store_function_on_dropped_tables_raises_storage_error(broken: Engine, name: str) -> None:
    with broken.connect() as conn, pytest.raises(StorageError) as caught:
        ON_CONNECTION[name](conn)
    assert_storage_error(caught)


@pytest.mark.parametrize("name", ON_ENGINE)
def test_lock_function_on_dropped_tables_raises_storage_error(broken: Engine, name: str) -> None:
    with pytest.raises(StorageError) as caught:
        ON_ENGINE[name](broken)
    assert_storage_error(caught)


def test_every_public_function_that_reaches_the_database_is_wrapped_and_tested() -> None:
    found = {
        f"{module.__name__.rsplit('.', 1)[-1]}.{name}": fn
        for module in BOUNDARY_MODULES
        for name, fn in public_functions(module)
        if list(inspect.signature(fn).parameters)[:1] in (["conn"], ["engine"]) and name not in NOT_WRAPPED
    }
    assert sorted(found) == sorted([*ON_CONNECTION, *ON_ENGINE])
    assert [name for name, fn in found.items() if not hasattr(fn, "__wrapped__")] == []


@pytest.mark.parametrize("open_connection", [connect, transaction])
def test_connect_and_transaction_translate_errors_in_their_block(
    sqlite_engine: Engine, open_connection: Callable[[Engine], Any]
) -> None:
    with (
        pytest.raises(StorageError, match="no such table: nowhere") as caught,
        open_connection(sqlite_engine) as c,
    ):
        c.execute(text("SELECT * FROM nowhere"))
    assert_storage_error(caught)


@pytest.mark.parametrize("open_connection", [connect, transaction])
def test_connect_and_transaction_on_an_unreachable_database(
    tmp_path: Path, open_connection: Callable[[Engine], Any]
) -> None:
    unreachable = create_engine(f"sqlite:///{tmp_path}/missing-dir/db.sqlite")
    with pytest.raises(StorageError, match="unable to open database file"), open_connection(unreachable):
        pass  # pragma: no cover


def test_other_errors_pass_through_untouched(sqlite_engine: Engine) -> None:
    with pytest.raises(KeyError), transaction(sqlite_engine) as conn:
        conn.execute(select(1))
        raise KeyError("not a database error")
    with (
        pytest.raises(StorageError) as caught,
        wrap_storage_errors(),
        wrap_storage_errors(),
        sqlite_engine.connect() as conn,
    ):
        conn.execute(text("SELECT * FROM nowhere"))
    assert isinstance(caught.value.__cause__, SQLAlchemyError)  # wrapped once, not twice


def public_functions(module: ModuleType) -> list[tuple[str, Callable[..., Any]]]:
    return [
        (name, fn)
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if not name.startswith("_") and inspect.unwrap(fn).__module__ == module.__name__
    ]
