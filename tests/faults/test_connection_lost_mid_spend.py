"""The database connection lost at each round trip of a spend (its load and its store are each
one psycopg pipeline on PostgreSQL): 503, nothing spent, and the retry spends once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.faults.test_connection_lost_mid_delivery import app_client, sever_connection_before
from tests.support import balance, error_of, grant, ledger, register, spend

pytestmark = pytest.mark.postgres_only
__all__ = ["app_client"]  # the fixture, shared with the delivery's fault test

# The spend's round trips: BEGIN and the load, the store, COMMIT.
STEPS = ["SELECT wallets.balance", "INSERT INTO ledger_entries", "COMMIT"]


@pytest.mark.parametrize("step", STEPS)
def test_a_connection_lost_at_any_round_trip_of_a_spend_answers_503_and_the_retry_spends_once(
    app_client: TestClient, postgres_url: str, step: str
) -> None:
    register(app_client, "user_1")
    assert grant(app_client, "user_1", 10, "welcome").status_code == 200
    sever_connection_before(app_client, step, postgres_url)

    assert error_of(spend(app_client, "user_1", 3, "a-spend")) == (503, "database_unavailable")

    assert spend(app_client, "user_1", 3, "a-spend").status_code == 200
    assert balance(app_client, "user_1") == 7
    assert [entry["delta"] for entry in ledger(app_client, "user_1")] == [-3, 10]
