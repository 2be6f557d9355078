"""Spending: `POST /v1/wallets/{user_id}/spend`, idempotent by the caller's key, never overdrawn.

What an app relies on: a retry of the same request (same key) never spends twice and answers like
the first time; a different request under a used key is a client bug (409); a spend larger than
the balance is refused with 402 and the balance, and leaves every table as it was.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import (
    auth,
    balance,
    buy,
    error_of,
    ledger,
    register,
    register_and_buy,
    spend,
    story,
    table_snapshot,
)

USER = "user_1"


@pytest.fixture
def wallet_of_100(client: TestClient) -> TestClient:
    """`USER` registered, with 100 paid credits."""
    register_and_buy(client, USER)
    return client


def test_a_spend_takes_the_credits_and_returns_the_new_balance_and_its_entry(
    wallet_of_100: TestClient,
) -> None:
    response = spend(wallet_of_100, USER, 30, "gen_1", "image generation")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["user_id"], body["balance"], body["replayed"]) == (USER, 70, False)
    entry = body["entry"]
    assert (entry["delta"], entry["kind"], entry["reference"], entry["reason"]) == (
        -30,
        "spend",
        "gen_1",
        "image generation",
    )
    assert entry["balance_after"] == 70
    assert ledger(wallet_of_100, USER)[0] == entry
    assert balance(wallet_of_100, USER) == 70


def test_a_retried_spend_returns_the_original_result_and_spends_nothing_more(
    wallet_of_100: TestClient,
) -> None:
    first = spend(wallet_of_100, USER, 30, "gen_1").json()

    retries = [spend(wallet_of_100, USER, 30, "gen_1") for _ in range(3)]

    assert [r.status_code for r in retries] == [200] * 3
    assert {(r.json()["replayed"], r.json()["balance"]) for r in retries} == {(True, 70)}
    assert {r.json()["entry"]["id"] for r in retries} == {first["entry"]["id"]}
    assert balance(wallet_of_100, USER) == 70
    assert story(wallet_of_100, USER) == [("purchase", 100), ("spend", -30)]


def test_a_retry_is_answered_with_the_original_result_even_once_the_balance_is_too_low(
    wallet_of_100: TestClient,
) -> None:
    """The retry of a spend that succeeded must not turn into a 402 because later spends
    emptied the wallet: the app would think the first one failed."""
    spend(wallet_of_100, USER, 70, "gen_1")
    spend(wallet_of_100, USER, 30, "gen_2")

    retry = spend(wallet_of_100, USER, 70, "gen_1")

    assert retry.status_code == 200, retry.text
    assert (retry.json()["replayed"], retry.json()["balance"]) == (True, 30)
    assert balance(wallet_of_100, USER) == 0


@pytest.mark.parametrize(
    "different",
    [{"credits": 31}, {"reason": "video generation"}],
    ids=["amount", "reason"],
)
def test_the_same_key_for_a_different_request_is_refused_with_409_and_changes_nothing(
    wallet_of_100: TestClient, database_url: str, different: dict[str, Any]
) -> None:
    original: dict[str, Any] = {"credits": 30, "reason": "image generation"}
    spend(wallet_of_100, USER, key="gen_1", **original)
    before = table_snapshot(database_url)

    clash = spend(wallet_of_100, USER, key="gen_1", **{**original, **different})

    assert error_of(clash) == (409, "conflict")
    assert "gen_1" in clash.json()["error"]["message"]
    assert table_snapshot(database_url) == before


def test_a_spend_over_the_balance_is_refused_with_402_and_the_balance_and_changes_nothing(
    wallet_of_100: TestClient, database_url: str
) -> None:
    spend(wallet_of_100, USER, 30, "gen_1")
    before = table_snapshot(database_url)

    refused = spend(wallet_of_100, USER, 71, "gen_2")

    assert error_of(refused) == (402, "insufficient_credits")
    assert refused.json()["error"]["balance"] == 70
    assert table_snapshot(database_url) == before


def test_the_whole_balance_can_be_spent_and_then_nothing_more(wallet_of_100: TestClient) -> None:
    assert spend(wallet_of_100, USER, 100, "gen_all").json()["balance"] == 0

    refused = spend(wallet_of_100, USER, 1, "gen_more")

    assert error_of(refused) == (402, "insufficient_credits")
    assert refused.json()["error"]["balance"] == 0


def test_a_refused_spend_does_not_use_up_its_key(wallet_of_100: TestClient) -> None:
    """Nothing was stored for the refused request, so the app may retry it after a top-up."""
    assert spend(wallet_of_100, USER, 150, "gen_big").status_code == 402
    buy(wallet_of_100, user_id=USER, credits=100)

    retried = spend(wallet_of_100, USER, 150, "gen_big")

    assert retried.status_code == 200, retried.text
    assert (retried.json()["replayed"], retried.json()["balance"]) == (False, 50)


def test_keys_belong_to_one_wallet_so_two_users_may_use_the_same_key(
    wallet_of_100: TestClient,
) -> None:
    register(wallet_of_100, "user_2")
    buy(wallet_of_100, user_id="user_2", credits=50)

    mine, theirs = (
        spend(wallet_of_100, USER, 10, "gen_1"),
        spend(wallet_of_100, "user_2", 10, "gen_1"),
    )

    assert [(r.json()["replayed"], r.json()["balance"]) for r in (mine, theirs)] == [
        (False, 90),
        (False, 40),
    ]


def test_spending_from_an_unknown_user_is_404(client: TestClient) -> None:
    assert error_of(spend(client, "nobody", 1, "gen_1")) == (404, "not_found")


@pytest.mark.parametrize("credits", [0, -5, 1.5, "5", None])
def test_a_spend_of_anything_but_a_positive_whole_number_is_refused_with_422(
    wallet_of_100: TestClient, credits: object
) -> None:
    response = wallet_of_100.post(
        f"/v1/wallets/{USER}/spend",
        json={"credits": credits, "idempotency_key": "gen_1", "reason": "gen"},
        headers=auth(),
    )

    assert error_of(response) == (422, "invalid_request")
    assert balance(wallet_of_100, USER) == 100
