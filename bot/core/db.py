"""Engine and transactions for SQLite (default) and PostgreSQL.

SQLite: WAL, a busy timeout, and BEGIN IMMEDIATE for every transaction that may write, because a
deferred transaction that reads then writes can fail with SQLITE_BUSY despite the timeout. A
read-only transaction (`transaction(engine, read_only=True)`) begins DEFERRED: in WAL mode it
takes no write lock and never waits for a writer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any, TypeVar, cast
from weakref import WeakKeyDictionary

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    CursorResult,
    Dialect,
    Engine,
    Insert,
    Result,
    Select,
    Table,
    bindparam,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel

SQLITE_BUSY_TIMEOUT_SECONDS = 30.0


def make_engine(
    url: str, *, echo: bool = False, busy_timeout_seconds: float = SQLITE_BUSY_TIMEOUT_SECONDS
) -> Engine:
    """`busy_timeout_seconds`: how long SQLite waits for another connection's write lock before
    "database is locked" (a test's contention drill shortens it rather than wait 30 s)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": busy_timeout_seconds}
        engine = create_engine(url, echo=echo, connect_args=connect_args)
        _configure_sqlite(engine, busy_timeout_ms=int(busy_timeout_seconds * 1000))
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _configure_sqlite(engine: Engine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms:d}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Under WAL, NORMAL syncs at checkpoints rather than on every commit: a committed
        # transaction survives a crash of the process (the WAL is in the OS's hands), and only
        # a power loss may roll back the last ones, never corrupt the file. FULL would cost a
        # disk flush on every commit, which is most of a small write transaction's time.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY_OPTION)
        conn.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table=True model, for statements built on the table itself."""
    # SQLModel's metaclass sets __table__ on every table model but does not declare it.
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE/DELETE matched. Session.execute() returns a CursorResult for these, but its
    signature only promises a Result, which has no rowcount."""
    return cast(CursorResult[Any], result).rowcount


def insert_ignoring_conflicts(engine: Engine, table: Table) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING for the engine's dialect."""
    dialect = postgresql if is_postgres(engine) else sqlite
    statement: Insert = dialect.insert(table).on_conflict_do_nothing()
    return statement


READ_ONLY_OPTION = "brandbot_read_only"
_read_only_engines: WeakKeyDictionary[Engine, Engine] = WeakKeyDictionary()


@contextmanager
def transaction(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any exception. `read_only=True` for
    work that only reads: on SQLite it then takes no write lock (a write inside it fails with
    "database is locked" or "attempt to write a readonly database" rather than racing)."""
    bind = _read_only(engine) if read_only else engine
    with Session(bind, expire_on_commit=False) as session, session.begin():
        yield session


def _read_only(engine: Engine) -> Engine:
    # One option-engine per engine (it shares the pool and the events): built once, not per call.
    found = _read_only_engines.get(engine)
    if found is None:
        found = engine.execution_options(**{READ_ONLY_OPTION: True})
        _read_only_engines[engine] = found
    return found


# The largest id an INTEGER primary key holds on PostgreSQL (SQLite's are wider; ours never get
# near either).
MAX_ROW_ID = 2**31 - 1


def row_id(value: str | None) -> int | None:
    """The row id a payload's text names: ASCII digits within an id column's range, else None.
    (`int()` also reads "٣" and "1_0", and a number past the column's range makes PostgreSQL
    refuse the whole query.)"""
    if not value or len(value) > 10 or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if 0 < number <= MAX_ROW_ID else None


S = TypeVar("S", bound=Select[Any])


def skip_locked(statement: S, engine: Engine) -> S:
    """Rows a worker takes to work on: on PostgreSQL `FOR UPDATE SKIP LOCKED`, so replicas polling
    the same table take different rows without waiting for each other; on SQLite unchanged (one
    process, and BEGIN IMMEDIATE already serialises writers). Take them in a transaction that
    also marks them taken (a lease or a state change), so the lock outlives nothing."""
    if is_postgres(engine):
        return statement.with_for_update(skip_locked=True)
    return statement


def insert_page(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    returning: Sequence[ColumnElement[Any]] = (),
    ignore_conflicts: bool = False,
) -> Result[Any]:
    """INSERT a page of rows (all with the same keys) in one statement, RETURNING `returning`.

    On PostgreSQL the rows go as one array per column through unnest(), not as a VALUES list of
    rows times columns parameters: psycopg parses, and never caches, a statement of more than 50
    parameters on every execution, which cost more than the INSERT itself (a page of 100
    mentions is some 2,000 parameters); a page with nothing RETURNING goes as executemany. SQLite
    takes the VALUES list (see `_SqlitePage`)."""
    if not rows:
        raise ValueError("insert_page needs at least one row")
    engine = session.get_bind()
    names = tuple(rows[0])
    if engine.dialect.name != "postgresql":
        page = _sqlite_page(engine.dialect, table, names, ignore_conflicts, tuple(returning))
        if page is not None and len(rows) * len(names) <= SQLITE_MAX_PARAMETERS:
            return page.execute(session, rows)
        fallback = sqlite.insert(table)
        statement: Insert = fallback.on_conflict_do_nothing() if ignore_conflicts else fallback
        return session.execute(statement.returning(*returning) if returning else statement, rows)
    if not returning:
        # Nothing to read back: executemany, whose one-row statement psycopg parses once and
        # pipelines (the audit and timer pages through unnest() measured no faster, if anything
        # slower, on the ingest bench).
        insert = postgresql.insert(table)
        return session.execute(
            insert.on_conflict_do_nothing() if ignore_conflicts else insert, rows
        )
    arrays = [
        bindparam(f"page_{name}", [row[name] for row in rows], type_=ARRAY(table.c[name].type))
        for name in names
    ]
    unnested = func.unnest(*arrays).table_valued(*names).render_derived(name="page")
    insert = postgresql.insert(table).from_select(names, select(*(unnested.c[n] for n in names)))
    statement = insert.on_conflict_do_nothing() if ignore_conflicts else insert
    return session.execute(statement.returning(*returning))


# The most parameters SQLite takes in one statement (SQLITE_MAX_VARIABLE_NUMBER since 3.32); a
# larger page goes through SQLAlchemy's own batching.
SQLITE_MAX_PARAMETERS = 32766


@dataclass(frozen=True)
class _SqlitePage:
    """A page INSERT for SQLite: SQLAlchemy compiles the one-row statement once per shape and
    gives each column's bind processor; a page then is that statement with one placeholder
    group per row, its values processed a column at a time.

    SQLAlchemy's own executemany builds and processes every row's parameters one by one
    (`construct_params`), which cost ingest more than SQLite spent inserting the rows."""

    sql_before_rows: str
    one_row: str
    sql_after_rows: str
    values_of: Callable[[dict[str, Any]], tuple[Any, ...]]
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column position, processor)

    def execute(self, session: Session, rows: list[dict[str, Any]]) -> Result[Any]:
        values: list[Any] = []
        for row in rows:
            row_values = list(self.values_of(row))
            for position, process in self.processors:
                row_values[position] = process(row_values[position])
            values += row_values
        groups = ", ".join([self.one_row] * len(rows))
        sql = f"{self.sql_before_rows}{groups}{self.sql_after_rows}"
        return session.connection().exec_driver_sql(sql, tuple(values))


@lru_cache(maxsize=64)
def _sqlite_page(
    dialect: Dialect,
    table: Table,
    names: tuple[str, ...],
    ignore_conflicts: bool,
    returning: tuple[ColumnElement[Any], ...],
) -> _SqlitePage | None:
    """The page INSERT of this shape, or None where SQLAlchemy must do it: a column it fills in
    itself (a Python-side default), or a returned column whose values it converts on reading."""
    insert = sqlite.insert(table)
    statement: Insert = insert.on_conflict_do_nothing() if ignore_conflicts else insert
    if returning:
        statement = statement.returning(*returning)
    compiled = statement.compile(dialect=dialect, column_keys=list(names))
    order = tuple(compiled.positiontup or ())  # the table's column order, not the rows' keys
    one_row = "(" + ", ".join("?" * len(names)) + ")"
    if sorted(order) != sorted(names) or compiled.string.count(one_row) != 1:
        return None
    if any(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in returning):
        return None
    before, _, after = compiled.string.partition(one_row)
    processors = tuple(
        (position, process)
        for position, name in enumerate(order)
        if (process := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
    )
    values_of = itemgetter(*order) if len(order) > 1 else lambda row: (row[order[0]],)
    return _SqlitePage(before, one_row, after, values_of, processors)


def create_all(engine: Engine) -> None:
    import bot.core.models  # noqa: F401  (registers the tables)

    SQLModel.metadata.create_all(engine)


__all__ = ["NullPool", "create_all", "is_postgres", "make_engine", "transaction"]
