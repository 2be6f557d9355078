"""A transaction whose first round trip meets a dead pooled connection runs again on a fresh one.

The pool used to ping every connection it handed out (`pool_pre_ping`: one `;` round trip per
transaction), so that one killed by a PostgreSQL restart, a failover or `pg_terminate_backend`
was never used. Now a connection is used unchecked, and when the transaction's first round trip
fails because the connection is dead, that round trip is sent again, once, on a fresh
connection. That is safe only there: before its first statement is answered, a transaction holds
nothing on the server and has committed nothing, so starting it over loses nothing and does
nothing twice. Every later failure (after an answer, at COMMIT, or of the retry itself) stays a
lost connection, `DatabaseUnavailable` (503: Stripe retries), because work was sent that the
client can no longer see.

This is SQLAlchemy's "optimistic" disconnect handling (a disconnect invalidates the connection
and every pooled one as old as it, so the one retry gets a new connection, not the next dead
one) with the statement retry of its FAQ ("How Do I Retry a Statement Execution
Automatically?"), kept to the one statement where it is safe inside a transaction. Which
statement is first the driver says: psycopg's transaction is still IDLE before it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine.interfaces import DBAPICursor, ExecutionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection

T = TypeVar("T")

# The execution option of the connections whose transactions may be started over.
_RETRIED = "creditflow_retry_first_round_trip"


def connect(engine: Engine) -> Connection:
    """A connection whose transactions' first round trip is sent again once if it was dead.

    Its holder ends each transaction with `Connection.commit()` or `rollback()` and keeps no
    `Transaction` object: a retry replaces the (empty) transaction with a new one.
    """
    return engine.connect().execution_options(**{_RETRIED: True})


def retry_first_round_trips(engine: Engine) -> None:
    """Make the statements that open a transaction on `connect`'s connections retried.

    Every SQLAlchemy statement reaches the driver through the dialect's `do_execute` hooks, so
    this covers every repository; work sent on the driver's connection directly goes through
    `first_round_trip`.
    """
    event.listen(engine, "do_execute", _execute)
    event.listen(engine, "do_execute_no_params", _execute_no_params)


def first_round_trip(connection: Connection, send: Callable[[PoolProxiedConnection], T]) -> T:
    """`send(pooled_connection)`, the transaction's first round trip; once more on a fresh
    connection if the first one was dead.

    For work sent on the driver's connection itself (`pooled_connection.driver_connection`, e.g.
    a psycopg pipeline): `send` must use the connection it is given, which is another one on the
    retry, and must not commit. Once anything else was sent in the transaction, no retry.
    """
    pooled = connection.connection
    if not _opens_transaction(pooled):
        return send(pooled)
    try:
        return send(pooled)
    except (DBAPIError, connection.dialect.loaded_dbapi.Error) as exc:
        if not _is_dead(connection, pooled, exc):
            raise
        _reconnect(connection, pooled, exc)
    return send(connection.connection)


def _execute(
    _cursor: DBAPICursor, statement: str, parameters: Any, context: ExecutionContext
) -> bool:
    return _retried(
        context, lambda cursor: context.dialect.do_execute(cursor, statement, parameters, context)
    )


def _execute_no_params(_cursor: DBAPICursor, statement: str, context: ExecutionContext) -> bool:
    return _retried(
        context, lambda cursor: context.dialect.do_execute_no_params(cursor, statement, context)
    )


def _retried(context: ExecutionContext, execute: Callable[[DBAPICursor], None]) -> bool:
    """Run the statement through `first_round_trip` when its connection opted in; False leaves
    it to SQLAlchemy (an executemany's batches share one cursor: never retried)."""
    connection = context.root_connection
    if context.executemany or not context.execution_options.get(_RETRIED):
        return False

    def send(pooled: PoolProxiedConnection) -> None:
        if context.cursor.connection is not pooled.driver_connection:  # the retry's connection
            context.cursor = pooled.cursor()
        execute(context.cursor)

    first_round_trip(connection, send)
    return True  # executed here: SQLAlchemy reads the result from `context.cursor`


def _opens_transaction(pooled: PoolProxiedConnection) -> bool:
    """Whether the next statement is the transaction's first: psycopg sends BEGIN with it."""
    driver = pooled.driver_connection
    return bool(
        driver is not None
        and not driver.autocommit  # in autocommit each statement commits on its own
        and driver.info.transaction_status == TransactionStatus.IDLE
    )


def _is_dead(connection: Connection, pooled: PoolProxiedConnection, exc: Any) -> bool:
    """`exc` is SQLAlchemy's error (which already invalidated what it had to) or the driver's."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated
    return bool(connection.dialect.is_disconnect(exc, pooled, None))


def _reconnect(connection: Connection, pooled: PoolProxiedConnection, exc: Exception) -> None:
    """Drop the dead connection and its transaction, and begin anew on a fresh connection."""
    if not connection.invalidated:
        # What SQLAlchemy does on a disconnect it sees (Connection._handle_dbapi_exception):
        # every connection the pool opened until now is taken as dead too (a restart ends them
        # all) and replaced at its next checkout, so the retry cannot meet another dead one.
        connection.engine.pool._invalidate(pooled, exc)
        connection.invalidate(exc)
    connection.rollback()
    connection.begin()  # checks out a connection from the pool: a new one
