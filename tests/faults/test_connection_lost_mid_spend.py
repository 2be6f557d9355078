"""The database connection lost at each round trip of a spend (its load and its store are each
one psycopg pipeline on PostgreSQL): after the first, 503, nothing spent, and the retry spends
once; at the first (BEGIN and the load) nothing was sent yet, so it is sent again on a fresh
connection and the spend is made at once (adapters/db/reconnect.py).

Those are the round trips of a spend in a transaction of its own (CREDITFLOW_GROUP_COMMIT=false).
With group commit, a batch whose transaction failed is run again, its posting alone on a fresh
connection (services/group_commit.py), so the spend may be made and answered 200 at once; either
way it is made once.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.faults.dead_connections import assert_lost_or_made_alone, sever_before
from tests.support import (
    balance,
    container,
    grant,
    ledger,
    register,
    spend,
)

pytestmark = pytest.mark.postgres_only

FIRST = "SELECT wallets.balance"  # BEGIN, the wallet's lock, its lots, the key: one pipeline
STEPS = ["INSERT INTO ledger_entries", "COMMIT"]  # the store's pipeline, then COMMIT


@pytest.mark.parametrize("step", STEPS)
def test_a_connection_lost_at_any_later_round_trip_of_a_spend_answers_503_and_the_retry_spends_once(
    spending_client: TestClient, postgres_url: str, step: str, group_commit: bool
) -> None:
    app_client = spending_client
    register(app_client, "user_1")
    assert grant(app_client, "user_1", 10, "welcome").status_code == 200
    sever_before(container(app_client).engine, step, postgres_url)

    assert_lost_or_made_alone(spend(app_client, "user_1", 3, "a-spend"), group_commit)

    assert spend(app_client, "user_1", 3, "a-spend").status_code == 200
    assert balance(app_client, "user_1") == 7
    assert [entry["delta"] for entry in ledger(app_client, "user_1")] == [-3, 10]


def test_a_connection_lost_before_the_spends_first_round_trip_is_replaced_and_the_spend_made(
    app_client: TestClient, postgres_url: str
) -> None:
    register(app_client, "user_1")
    assert grant(app_client, "user_1", 10, "welcome").status_code == 200
    sever_before(container(app_client).engine, FIRST, postgres_url)

    assert spend(app_client, "user_1", 3, "a-spend").status_code == 200
    assert balance(app_client, "user_1") == 7
    assert [entry["delta"] for entry in ledger(app_client, "user_1")] == [-3, 10]
