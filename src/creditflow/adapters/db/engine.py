"""Engines configured so that the same transactions are safe on SQLite and on PostgreSQL.

SQLite: every transaction starts with BEGIN IMMEDIATE, taking the write lock up front, so two
threads or processes never both read "not yet granted" and both grant; WAL lets readers continue;
a busy timeout turns contention into waiting instead of "database is locked" errors.
PostgreSQL: READ COMMITTED with explicit row locks and advisory locks where the code needs them.
No pre-ping (a round trip at every checkout): a transaction whose first statement meets a
connection the server closed is started over on a fresh one instead (`reconnect`). psycopg
prepares a statement after its 5th run on a connection (`prepare_threshold`); without prepared
statements none is, for PgBouncer's transaction pooling before 1.21, which hands each
transaction any server connection, where the statement was never prepared (or already was).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from creditflow.adapters.db.pipeline import utc_sessions
from creditflow.adapters.db.reconnect import retry_first_round_trips
from creditflow.settings import DEFAULT_POOL_SIZE

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def build_engine(
    url: str, *, pool_size: int = DEFAULT_POOL_SIZE, prepared_statements: bool = True
) -> Engine:
    """On PostgreSQL, `pool_size` connections are kept and twice as many more opened under load,
    so a process may hold up to 3 x `pool_size`. SQLite's engine has no such pool, and no
    prepared statements to turn off."""
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if not prepared_statements:
        connect_args["prepare_threshold"] = None  # psycopg: never prepare
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_timeout=10,
        connect_args=connect_args,
    )
    retry_first_round_trips(engine)
    utc_sessions(engine)
    return engine


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control from the sqlite3 module so BEGIN IMMEDIATE is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
