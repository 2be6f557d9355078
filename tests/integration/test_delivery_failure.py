"""A delivery whose processing fails part way keeps none of its writes and is stored as failed.

There is no savepoint around processing: the failure rolls the whole transaction back (on
PostgreSQL a failed statement ends it anyway), and the delivery is stored again, with its
outcome, in a fresh transaction. These tests make a statement of the processing fail (an
engine listener raises before it reaches the database), as a bug or a constraint would.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, event, func, select

from creditflow.adapters.db.tables import purchases, webhook_events
from tests.support import balance, container, deliver, ledger, paid_session_event, register


def fail_once_before(engine: Engine, step: str) -> None:
    """Raise, the first time a statement starting with `step` is about to be sent."""
    failed: list[str] = []

    def before_statement(_connection: Connection, *args: Any) -> None:
        statement: str = args[1]
        if statement.startswith(step) and not failed:
            failed.append(statement)
            raise RuntimeError("a statement failed part way through the processing")

    event.listen(engine, "before_cursor_execute", before_statement)


def test_a_delivery_failing_after_its_writes_keeps_none_and_is_stored_failed(
    client: TestClient,
) -> None:
    register(client, "user_1")
    event_ = paid_session_event(user_id="user_1", credits=100)
    engine = container(client).engine
    fail_once_before(engine, "INSERT INTO ledger_entries")  # the purchase is in

    failed = deliver(client, event_)

    with engine.connect() as connection:
        stored = connection.execute(
            select(webhook_events.c.status, webhook_events.c.error, webhook_events.c.delivery_count)
        ).one()
        purchase_count = connection.execute(select(func.count()).select_from(purchases)).scalar()
    assert failed.status_code == 500, failed.text
    assert (stored.status, stored.delivery_count) == ("failed", 1)
    assert "RuntimeError" in (stored.error or "")
    assert purchase_count == 0
    assert balance(client, "user_1") == 0


def test_the_redelivery_of_a_delivery_that_failed_part_way_grants_once(
    client: TestClient,
) -> None:
    register(client, "user_1")
    event_ = paid_session_event(user_id="user_1", credits=100)
    fail_once_before(container(client).engine, "INSERT INTO ledger_entries")

    deliver(client, event_)
    retried = deliver(client, event_)

    assert (retried.status_code, retried.json()["status"]) == (200, "processed")
    assert [entry["delta"] for entry in ledger(client, "user_1")] == [100]
