"""The database connection lost at each step of a delivery: 503, and the retry grants once.

What a PostgreSQL restart or failover does to a delivery in flight, made deterministic: just
before one chosen statement of the delivery's transaction (or its COMMIT), the test terminates
that connection's backend from another connection (`pg_terminate_backend`), so the statement
meets a dead connection. Wherever that happens after the first statement, the answer must be
503 (Stripe retries), not 500 or 200, and the redelivery must grant the payment exactly once.
At the first statement nothing was sent yet: it is sent again on a fresh connection, and the
delivery is granted at once (what replaced the pool's pre-ping; see
test_dead_pooled_connections.py).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.faults.dead_connections import sever_before
from tests.support import (
    balance,
    container,
    deliver,
    error_of,
    ledger,
    paid_session_event,
    register,
)

pytestmark = pytest.mark.postgres_only

# The delivery's statements in order (a paid Checkout Session for a registered user).
FIRST = "INSERT INTO webhook_events"  # the inbox row (with BEGIN and the buyer lookup)
STEPS = [
    "INSERT INTO purchases",  # the purchase, inserted as it ends up
    "INSERT INTO ledger_entries",  # the grant
    "UPDATE webhook_events",  # the outcome recorded on the inbox row
    "COMMIT",
]


@pytest.mark.parametrize("step", STEPS)
def test_a_connection_lost_at_any_step_of_a_delivery_answers_503_and_the_retry_grants_once(
    app_client: TestClient, postgres_url: str, step: str
) -> None:
    register(app_client, "user_1")
    event_ = paid_session_event(user_id="user_1", credits=100)
    sever_before(container(app_client).engine, step, postgres_url)

    assert error_of(deliver(app_client, event_)) == (503, "database_unavailable")

    retried = deliver(app_client, event_)
    assert (retried.status_code, retried.json()["status"]) == (200, "processed")
    assert balance(app_client, "user_1") == 100
    assert [entry["delta"] for entry in ledger(app_client, "user_1")] == [100]


def test_a_connection_lost_before_the_first_statement_is_replaced_and_the_delivery_granted(
    app_client: TestClient, postgres_url: str
) -> None:
    register(app_client, "user_1")
    sever_before(container(app_client).engine, FIRST, postgres_url)

    response = deliver(app_client, paid_session_event(user_id="user_1", credits=100))

    assert (response.status_code, response.json()["status"]) == (200, "processed")
    assert [entry["delta"] for entry in ledger(app_client, "user_1")] == [100]
