"""Several statements in one round trip: psycopg's pipeline mode on PostgreSQL, in turn elsewhere.

A load or a store is a short list of statements none of which needs another's answer to be
written. On PostgreSQL they go out back to back on the driver connection in a pipeline and come
back after one Sync: one round trip, however many statements (and the transaction's BEGIN, when
it has not begun yet, goes first in the same pipeline). The server runs them in order, so
a `FOR UPDATE` first still locks before the later statements read, each with a fresh snapshot
under READ COMMITTED. SQLite runs them one after the other in-process through SQLAlchemy.

Statements sent on the driver connection stay in SQLAlchemy's transaction: SQLAlchemy's COMMIT
and ROLLBACK (and a savepoint's) are the driver's, so they apply to these statements too. What
SQLAlchemy would do around a statement is done here: its `before_cursor_execute` listeners hear
each one (the statement captures and fault tests rely on them), timestamps come back in UTC as
`UtcDateTime` gives them (the session's own time zone: `utc_sessions`), and a driver error is
raised as SQLAlchemy's, with a dead connection invalidated, so the unit of work tells a lost
connection (503) from the rest.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import psycopg  # the driver of PostgreSQL URLs (adapters/db/engine.py)
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.rows import tuple_row
from sqlalchemy import Connection, Dialect, Engine, Executable, event, text
from sqlalchemy.engine import Compiled
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.sql import ClauseElement

from creditflow.adapters.db.reconnect import first_round_trip

Statement = tuple[Executable, Mapping[str, Any]]
Rows = list[dict[str, Any]]


def run_together(connection: Connection, statements: Sequence[Statement]) -> list[Rows]:
    """Each statement's rows (empty for one that returns none), in the order given; the
    writes left for later (`write_later`) go first, in the same round trip."""
    if _pipelines(connection):
        later = connection.info.pop(_LATER, [])
        if later:
            return run_together(connection, [*later, *statements])[len(later) :]
        # A pipeline that opens the transaction is its first round trip: on a dead pooled
        # connection it is sent again, once, on a fresh one (reconnect.py says why that is safe).
        return first_round_trip(
            connection, lambda pooled: _pipelined(connection, pooled, statements)
        )
    results = []
    for statement, params in statements:
        result = connection.execute(statement, dict(params))
        results.append([dict(row) for row in result.mappings()] if result.returns_rows else [])
    return results


def write_later(connection: Connection, statement: Executable, params: Mapping[str, Any]) -> None:
    """A write whose answer nobody waits for and no later statement of the transaction reads:
    on PostgreSQL it goes out with the transaction's next pipeline, at the latest with its
    COMMIT (`commit`), saving its own round trip; elsewhere it runs at once."""
    if _pipelines(connection):
        connection.info.setdefault(_LATER, []).append((statement, params))
    else:
        connection.execute(statement, dict(params))


def commit(connection: Connection) -> None:
    """Commit the transaction; the writes left for later go in the same round trip, with a
    COMMIT sent in their pipeline (SQLAlchemy's own COMMIT then finds the driver's transaction
    over, and sends nothing, while its `commit` listeners still hear it)."""
    later = connection.info.pop(_LATER, [])
    if later:
        run_together(connection, [*later, (_COMMIT, {})])
    connection.commit()


def forget_later_writes(connection: Connection) -> None:
    """The transaction is rolled back: the writes left for later are never sent (a connection
    found dead was dropped with them)."""
    if not connection.invalidated:
        connection.info.pop(_LATER, None)


# Where a connection keeps the writes left for later (`Connection.info`, per DBAPI connection).
_LATER = "creditflow_written_later"
_COMMIT = text("COMMIT")
# Where a connection keeps its pipelines' cursors (`PoolProxiedConnection.info`).
_CURSORS = "creditflow_pipeline_cursors"


def utc_sessions(engine: Engine) -> None:
    """Every new PostgreSQL connection of `engine` in UTC: psycopg then hands timestamptz back
    in UTC already (`datetime.UTC` itself), and the pipeline converts no value of any row.

    A `SET` once per connection, not the `options` startup parameter: PgBouncer refuses that
    one, while it keeps `TimeZone` per client and sets it on whichever server connection it
    lends. No SQL of the project reads the session's time zone (no `::date`, no `date_trunc`).
    """
    event.listen(engine, "connect", _set_utc)


def _set_utc(driver: psycopg.Connection[Any], _record: ConnectionPoolEntry) -> None:
    autocommit = driver.autocommit
    driver.autocommit = True  # a SET, not a transaction left open
    try:
        driver.execute("SET TIME ZONE 'UTC'")
    finally:
        driver.autocommit = autocommit


def _pipelines(connection: Connection) -> bool:
    return connection.dialect.driver == "psycopg" and psycopg.Pipeline.is_supported()


def _pipelined(
    connection: Connection, pooled: PoolProxiedConnection, statements: Sequence[Statement]
) -> list[Rows]:
    driver = pooled.driver_connection
    assert isinstance(driver, psycopg.Connection)
    sent = [_bound(connection.dialect, statement, params) for statement, params in statements]
    begin = _begin_statement(driver)
    first, *cursors = _cursors(pooled, driver, len(sent) + 1)
    listeners = connection.dispatch.before_cursor_execute  # usually none: not called then
    try:
        with _own_begin(driver, begin), driver.pipeline():
            if begin is not None:
                first.execute(begin)
            for cursor, (sql, params) in zip(cursors, sent, strict=True):
                if listeners:
                    listeners(connection, cursor, sql, params, None, False)
                cursor.execute(sql, params)
        # Leaving the block sent the Sync and read every result: the one round trip.
        in_utc = driver.info.timezone is UTC  # as `utc_sessions` sets it: nothing to convert
        return [_rows(cursor, in_utc) for cursor in cursors]
    except psycopg.Error as exc:
        raise _translated(connection, pooled, exc, sent) from exc


def _cursors(
    pooled: PoolProxiedConnection, driver: psycopg.Connection[Any], count: int
) -> list[psycopg.Cursor[tuple[Any, ...]]]:
    """`count` cursors of the connection, one per statement of a pipeline, kept from one
    pipeline to the next: a psycopg cursor costs more to make (its adapters map copied, its
    transformer built) than to run a statement, and each is done with once its rows are read."""
    kept: list[psycopg.Cursor[tuple[Any, ...]]] = pooled.info.setdefault(_CURSORS, [])
    if kept and kept[0].connection is not driver:  # pragma: no cover - info outlived it
        kept.clear()
    while len(kept) < count:
        kept.append(driver.cursor(row_factory=tuple_row))
    return kept[:count]


def _begin_statement(driver: psycopg.Connection[Any]) -> str | None:
    """The BEGIN psycopg would send before these statements, or None inside a transaction."""
    if driver.autocommit or driver.info.transaction_status != TransactionStatus.IDLE:
        return None
    parts = ["BEGIN"]
    if driver.isolation_level is not None:
        parts.append(f"ISOLATION LEVEL {driver.isolation_level.name.replace('_', ' ')}")
    if driver.read_only is not None:
        parts.append("READ ONLY" if driver.read_only else "READ WRITE")
    if driver.deferrable is not None:
        parts.append("DEFERRABLE" if driver.deferrable else "NOT DEFERRABLE")
    return " ".join(parts)


@contextmanager
def _own_begin(driver: psycopg.Connection[Any], begin: str | None) -> Iterator[None]:
    """Send the transaction's BEGIN in the pipeline, as the first of its statements.

    psycopg's own BEGIN in a pipeline is followed by a Sync and a wait for its answer (a round
    trip of its own). So the connection is put in autocommit for the pipeline (psycopg then
    sends no BEGIN) and the BEGIN is sent as a statement; once the pipeline is through, the
    connection is a transaction psycopg began, as if it had: autocommit off, in transaction
    (psycopg only allows turning autocommit off outside a transaction, hence the attribute).
    """
    if begin is None:
        yield
        return
    driver.autocommit = True
    try:
        yield
    finally:
        driver._autocommit = False


def _bound(
    dialect: Dialect, statement: Executable, params: Mapping[str, Any]
) -> tuple[str, Mapping[str, Any]]:
    """The SQL and every parameter it names (literals such as `remaining > 0` are some)."""
    compiled = _compiled(dialect, statement, tuple(params))
    return compiled.string, compiled.construct_params(dict(params)) or {}


@lru_cache(maxsize=512)  # a few statements per engine; tests make many engines
def _compiled(dialect: Dialect, statement: Executable, keys: tuple[str, ...]) -> Compiled:
    """Compiled once per statement and set of parameters, as SQLAlchemy caches it."""
    assert isinstance(statement, ClauseElement)
    return statement.compile(dialect=dialect, column_keys=list(keys))


def _rows(cursor: psycopg.Cursor[tuple[Any, ...]], in_utc: bool) -> Rows:
    """The statement's rows by column name (none for a statement that returns no rows).

    The names come from the result itself: psycopg's `description` (and `dict_row`, which reads
    it) builds a column object, type lookup included, per column of every statement, and was a
    tenth of a delivery's CPU.
    """
    result = cursor.pgresult
    if result is None or result.status != ExecStatus.TUPLES_OK:
        return []
    names = [(result.fname(i) or b"").decode() for i in range(result.nfields)]
    rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    return rows if in_utc else _utc(rows)


def _utc(rows: list[dict[str, Any]]) -> Rows:
    """psycopg hands timestamptz back in the session's time zone; the app's are in UTC (a
    session `utc_sessions` did not set, e.g. an engine built without `build_engine`)."""
    for row in rows:
        for name, value in row.items():
            if isinstance(value, datetime):
                row[name] = value.astimezone(UTC)
    return rows


def _translated(
    connection: Connection,
    pooled: PoolProxiedConnection,
    exc: psycopg.Error,
    sent: Sequence[tuple[str, Mapping[str, Any]]],
) -> DBAPIError:
    dialect = connection.dialect
    driver_error: Any = exc  # psycopg's, one of the DBAPI errors SQLAlchemy's types name
    lost = dialect.is_disconnect(driver_error, pooled.dbapi_connection, None)
    if lost:
        # What SQLAlchemy does on a disconnect it sees: every connection the pool opened until
        # now is taken as dead too (a restart ends them all), then this one is dropped.
        connection.engine.pool._invalidate(pooled, exc)
        connection.invalidate(exc)
    statement = "; ".join(sql for sql, _ in sent)
    error = DBAPIError.instance(
        statement,
        [dict(params) for _, params in sent],
        exc,
        dialect.loaded_dbapi.Error,
        connection_invalidated=lost,
        dialect=dialect,
    )
    assert isinstance(error, DBAPIError)  # what it makes of a driver's error
    return error
