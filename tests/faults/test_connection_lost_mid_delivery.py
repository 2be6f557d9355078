"""The database connection lost at each step of a delivery: 503, and the retry grants once.

What a PostgreSQL restart or failover does to a delivery in flight, made deterministic: just
before one chosen statement of the delivery's transaction (or its COMMIT), the test terminates
that connection's backend from another connection (`pg_terminate_backend`), so the statement
meets a dead connection. Wherever that happens, the answer must be 503 (Stripe retries), not
500 or 200, and the redelivery must grant the payment exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, create_engine, event, text

from creditflow.entrypoints.http import create_app
from tests.support import (
    assert_database_audit_clean,
    balance,
    container,
    deliver,
    error_of,
    ledger,
    make_settings,
    paid_session_event,
    register,
)

pytestmark = pytest.mark.postgres_only

# The delivery's statements in order (a paid Checkout Session for a registered user).
STEPS = [
    "INSERT INTO webhook_events",  # the inbox row
    "SAVEPOINT",  # processing starts
    "INSERT INTO ledger_entries",  # the grant
    "RELEASE SAVEPOINT",  # processing done
    "UPDATE webhook_events",  # the outcome recorded on the inbox row
    "COMMIT",
]


@pytest.fixture
def app_client(postgres_url: str) -> Iterator[TestClient]:
    """The app on PostgreSQL; an unhandled error is a 500, as a real server answers it."""
    with TestClient(
        create_app(make_settings(postgres_url)), raise_server_exceptions=False
    ) as client:
        yield client
    assert_database_audit_clean(postgres_url)


def sever_connection_before(client: TestClient, step: str, database_url: str) -> None:
    """Terminate the backend of the connection about to run `step`, the first time it comes."""
    engine = container(client).engine
    killer = create_engine(database_url, isolation_level="AUTOCOMMIT")
    done: list[int] = []

    def terminate(connection: Connection) -> None:
        if done:
            return
        pid = connection.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        with killer.connect() as other:
            # The second argument waits (ms) until the backend has really gone.
            other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        killer.dispose()
        done.append(pid)

    def before_statement(connection: Connection, *args: Any) -> None:
        statement: str = args[1]
        if statement.startswith(step):
            terminate(connection)

    if step == "COMMIT":
        event.listen(engine, "commit", terminate)
    else:
        event.listen(engine, "before_cursor_execute", before_statement)


@pytest.mark.parametrize("step", STEPS)
def test_a_connection_lost_at_any_step_of_a_delivery_answers_503_and_the_retry_grants_once(
    app_client: TestClient, postgres_url: str, step: str
) -> None:
    register(app_client, "user_1")
    event_ = paid_session_event(user_id="user_1", credits=100)
    sever_connection_before(app_client, step, postgres_url)

    assert error_of(deliver(app_client, event_)) == (503, "database_unavailable")

    retried = deliver(app_client, event_)
    assert (retried.status_code, retried.json()["status"]) == (200, "processed")
    assert balance(app_client, "user_1") == 100
    assert [entry["delta"] for entry in ledger(app_client, "user_1")] == [100]
