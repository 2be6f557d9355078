"""Killing the server side of a connection, as a PostgreSQL restart or failover does.

From another connection, `pg_terminate_backend` ends a connection's backend: the client learns
it only at its next round trip, as after a restart.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Connection, Engine, create_engine, event, text

from tests.support import error_of


def backend_pid(connection: Connection) -> int:
    pid: int = connection.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
    return pid


def terminate(database_url: str, pids: list[int]) -> None:
    """End those backends from another connection; waits (5 s at most) until they are gone."""
    killer = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with killer.connect() as other:
            ended = other.execute(
                text("SELECT pg_terminate_backend(pid, 5000) FROM unnest(:pids) AS pid"),
                {"pids": pids},
            ).scalars()
            assert all(ended), "a backend did not end"
    finally:
        killer.dispose()


def sever_before(engine: Engine, step: str, database_url: str) -> None:
    """Terminate the backend of the connection about to run `step` (the start of a statement,
    or COMMIT), the first time it comes."""
    done: list[int] = []

    def kill(connection: Connection) -> None:
        if not done:
            done.append(backend_pid(connection))
            terminate(database_url, done)

    def before_statement(connection: Connection, *args: Any) -> None:
        statement: str = args[1]
        if statement.startswith(step):
            kill(connection)

    event.listen(engine, "before_cursor_execute", before_statement)
    if step == "COMMIT":  # a COMMIT of its own, or one sent in a pipeline (a statement then)
        event.listen(engine, "commit", kill)


def assert_lost_or_made_alone(response: httpx.Response, group_commit: bool) -> None:
    """A spend whose connection was lost mid-transaction: 503, nothing done. With group commit
    the batch's failed transaction is run again, its posting alone on a fresh connection
    (services/group_commit.py), so the spend may be made there and answered 200."""
    if group_commit and response.status_code == 200:
        assert response.json()["replayed"] is False
    else:
        assert error_of(response) == (503, "database_unavailable")
