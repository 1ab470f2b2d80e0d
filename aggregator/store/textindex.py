"""The text index behind ``q``, and the condition a slice uses to match ``q``.

``q`` matches an item when its title, summary or content contains ``q`` as a
substring, ignoring case (the pattern and the text are both lowered; ``%``, ``_``
and ``\\`` are literal). That predicate is the answer on both databases; the index
only finds its candidates:

* SQLite: an FTS5 table ``item_text`` with the ``trigram`` tokenizer (so Japanese,
  which has no spaces between words, is found), over the three columns of ``item``
  (external content: the text is stored once, in ``item``). Triggers keep it in step
  with every insert, text update and delete of an item, whoever writes it. A query
  of three characters or more is one FTS5 phrase (quoted, so no query syntax leaks
  through), rechecked with the predicate; a shorter one has no trigram and is
  answered by the predicate alone, as before the index.
* PostgreSQL: one ``pg_trgm`` GIN index on the lowered title, summary and content
  joined by line breaks, which serves the predicate itself (one ``LIKE '%…%'`` over
  that expression: a query without a line break cannot match across two columns; one
  with a line break is tested column by column, without the index). The planner
  chooses between it and the date or tag index from the expression's statistics; a
  pattern under three characters gives it no trigram, and it reads the items instead.

``install_text_index`` holds the DDL and the backfill in one idempotent function, for
new databases, for the one-time upgrade (``store.rekey``) and for schema migrations.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import String, and_, column, func, literal_column, or_, select, table, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import ColumnElement

from ..models import Item, table_of
from .common import first_line, wrap_storage_errors
from .ranges import narrow_bound

log = logging.getLogger("aggregator.store")

ITEM = table_of(Item)
TEXT_COLUMNS = ("title", "summary", "content")
FTS_TABLE = "item_text"
MIN_TRIGRAM_QUERY = 3  # characters: a shorter query holds no trigram
FTS = table(FTS_TABLE, column("rowid"))
FTS_OPTIONS = "content='item', content_rowid='id', tokenize='trigram'"
PG_INDEX = "ix_item_text"
# PostgreSQL: a trigram index per column that ``filter=intitle:`` / ``author:`` reads (lower(column)).
PG_COLUMN_INDEXES = {"title": "ix_item_title_trgm", "author": "ix_item_author_trgm"}
SEPARATOR = "\n"  # between the columns in PostgreSQL's indexed text: a query without it matches inside one
_SEPARATOR_SQL = "E'\\n'"
_TRIGGERS = {
    f"{FTS_TABLE}_insert": f"""AFTER INSERT ON item BEGIN
        INSERT INTO {FTS_TABLE}(rowid, title, summary, content)
        VALUES (new.id, new.title, new.summary, new.content); END""",
    f"{FTS_TABLE}_delete": f"""AFTER DELETE ON item BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, summary, content)
        VALUES ('delete', old.id, old.title, old.summary, old.content); END""",
    f"{FTS_TABLE}_update": f"""AFTER UPDATE OF title, summary, content ON item
        WHEN old.title IS NOT new.title OR old.summary IS NOT new.summary OR old.content IS NOT new.content
        BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, summary, content)
        VALUES ('delete', old.id, old.title, old.summary, old.content);
        INSERT INTO {FTS_TABLE}(rowid, title, summary, content)
        VALUES (new.id, new.title, new.summary, new.content); END""",
}
_HAS_FTS = "aggregator_has_item_text"


def outside_models(name: str | None, type_: str) -> bool:
    """Whether a database object is this module's rather than the models' (schema comparisons skip it)."""
    if type_ == "table":
        return name == FTS_TABLE or (name or "").startswith(f"{FTS_TABLE}_")
    return type_ == "index" and (name == PG_INDEX or name in PG_COLUMN_INDEXES.values())


@wrap_storage_errors()
def install_text_index(conn: Connection) -> bool:
    """Create the text index where it is missing and fill it from the items; True when it is in place.

    Idempotent: a complete index is left alone. Where the database cannot hold it (an SQLite
    without FTS5 trigrams, a PostgreSQL where ``pg_trgm`` cannot be created), it logs why and
    returns False; ``q`` stays correct without it, only slower.
    """
    installed = _install_fts(conn) if conn.dialect.name == "sqlite" else _install_trigram_index(conn)
    conn.info.pop(_HAS_FTS, None)
    return installed


def drop_statements(dialect: str) -> list[str]:
    """The statements that remove the text index (before a bulk load, or to undo ``install_text_index``)."""
    if dialect == "sqlite":
        triggers = [f'DROP TRIGGER IF EXISTS "{name}"' for name in _TRIGGERS]
        return [*triggers, f'DROP TABLE IF EXISTS "{FTS_TABLE}"']
    return [f'DROP INDEX IF EXISTS "{name}"' for name in (PG_INDEX, *PG_COLUMN_INDEXES.values())]


def _install_fts(conn: Connection) -> bool:
    present = set(
        conn.execute(
            text("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') AND name LIKE :p"),
            {"p": f"{FTS_TABLE}%"},
        ).scalars()
    )
    if {FTS_TABLE, *_TRIGGERS} <= present:
        return True
    columns = ", ".join(TEXT_COLUMNS)
    create = f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5({columns}, {FTS_OPTIONS})"
    if not _try(conn, create):
        return False
    for name, body in _TRIGGERS.items():
        conn.execute(text(f"CREATE TRIGGER IF NOT EXISTS {name} {body}"))
    # Items written while the table or a trigger was missing: index them all again.
    conn.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')"))
    return True


def _install_trigram_index(conn: Connection) -> bool:
    if not _try(conn, "CREATE EXTENSION IF NOT EXISTS pg_trgm"):
        return False
    # The operator class lives where the extension was installed, which may not be on search_path.
    schema = conn.execute(
        text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'pg_trgm'"
        )
    ).scalar_one()
    opclass = f'"{schema}".gin_trgm_ops'
    indexed = _joined_text().compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    conn.execute(text(f'CREATE INDEX IF NOT EXISTS "{PG_INDEX}" ON item USING gin (({indexed}) {opclass})'))
    for name_of_column, name in PG_COLUMN_INDEXES.items():
        conn.execute(
            text(
                f'CREATE INDEX IF NOT EXISTS "{name}" ON item USING gin ((lower({name_of_column})) {opclass})'
            )
        )
    return True


def _try(conn: Connection, statement: str) -> bool:
    """Run a statement the database may not support (a missing module or extension); False if it failed."""
    try:
        if (
            conn.dialect.name == "sqlite"
        ):  # a failed CREATE changes nothing, and pysqlite's savepoints are unreliable
            conn.execute(text(statement))
        else:
            with conn.begin_nested():  # PostgreSQL aborts the transaction on an error, unless in a savepoint
                conn.execute(text(statement))
    except SQLAlchemyError as exc:
        log.warning("text index not installed (q reads the items instead): %s", first_line(exc))
        return False
    return True


def _has_fts(conn: Connection) -> bool:
    """True when this SQLite database has the FTS table (remembered per connection)."""
    if _HAS_FTS not in conn.info:
        found = conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :n"), {"n": FTS_TABLE}
        ).first()
        conn.info[_HAS_FTS] = found is not None
    return bool(conn.info[_HAS_FTS])


@wrap_storage_errors()
def steer_text_sqlite(
    conn: Connection, q: str, limit: int, columns: tuple[str, ...] = TEXT_COLUMNS
) -> ColumnElement[bool]:
    """The condition for ``q`` in ``columns`` (all three, or one) in an SQLite slice of ``limit`` items:
    the predicate, with the FTS table where it helps (SQLite keeps no statistics to choose).

    The FTS candidates are counted up to ``ranges.narrow_bound``: fewer, and they are read
    from the FTS table (marked selective), sorted and rechecked; more, and the slice walks
    its date or tag index testing the predicate, which meets ``limit`` matches soon. A query
    under three characters, or a database without the FTS table, gets the predicate alone.
    """
    bound = narrow_bound(conn, limit)
    predicate = text_predicate(q, columns)
    if not is_trigram_query(q) or not _has_fts(conn):
        return predicate
    candidates = fts_candidates(q, None if columns == TEXT_COLUMNS else columns[0])
    probe = candidates.limit(bound).subquery()
    if int(conn.execute(select(func.count()).select_from(probe)).scalar() or 0) >= bound:
        return predicate
    # Typed as nothing: a Boolean function would be compared with 1, which SQLite cannot see through.
    return and_(func.likelihood(ITEM.c.id.in_(candidates), literal_column("0.001")), predicate)


def text_predicate(q: str, columns: tuple[str, ...] = TEXT_COLUMNS) -> ColumnElement[bool]:
    """The meaning of ``q``: a case-insensitive substring of the title, the summary or the content."""
    pattern = "%" + _escape_like(q.lower()) + "%"
    return or_(*(func.lower(ITEM.c[name]).like(pattern, escape="\\") for name in columns))


def trigram_predicate(q: str) -> ColumnElement[bool]:
    """``text_predicate`` in the form PostgreSQL's trigram index serves: one LIKE over the lowered columns
    joined by a line break (a query without one cannot match across two columns)."""
    if SEPARATOR in q:
        return text_predicate(q)
    return _joined_text().like("%" + _escape_like(q.lower()) + "%", escape="\\")


def _joined_text() -> ColumnElement[str]:
    # The same expression in the index and in the query, constants written out, so the planner matches them.
    joined: ColumnElement[str] = ITEM.c[TEXT_COLUMNS[0]]
    for name in TEXT_COLUMNS[1:]:
        column_text = func.coalesce(ITEM.c[name], literal_column("''", String))
        joined = joined.op("||")(literal_column(_SEPARATOR_SQL, String)).op("||")(column_text)
    return func.lower(joined, type_=String)


def is_trigram_query(q: str) -> bool:
    """True when ``q`` is long enough for the trigram index to find its candidates."""
    return len(q) >= MIN_TRIGRAM_QUERY


def fts_candidates(q: str, column: str | None = None) -> Any:
    """The ids the SQLite FTS table offers for ``q`` (a superset of the matches, in practice equal),
    in one of its columns only when ``column`` is given."""
    phrase = fts_phrase(q) if column is None else f"{{{column}}} : {fts_phrase(q)}"
    return select(FTS.c.rowid).where(literal_column(FTS_TABLE).op("MATCH")(phrase))


def fts_phrase(q: str) -> str:
    """``q`` as one FTS5 phrase: quoted, inner quotes doubled, so no operator or syntax error gets through."""
    return '"' + q.replace('"', '""') + '"'


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
