"""Flow 1 and 2: checkout sessions turn into credits once, whatever arrives and how often."""

from __future__ import annotations

from fastapi.testclient import TestClient

from creditflow.adapters.stripe import samples
from tests.support import auth, balance, deliver, fixture, paid_session_event, register


def test_a_paid_checkout_credits_the_buyers_wallet_and_records_the_purchase(
    client: TestClient,
) -> None:
    register(client, "user_42", "ada@example.com")
    event = fixture("derived/checkout_session_completed_paid.json")
    event["data"]["object"]["metadata"] = {"credits": "250"}

    response = deliver(client, event)

    assert response.status_code == 200
    assert response.json()["status"] == "processed"
    assert balance(client, "user_42") == 250
    purchases = client.get("/v1/purchases", params={"user_id": "user_42"}, headers=auth()).json()
    [purchase] = purchases["purchases"]
    assert purchase["checkout_session_id"] == event["data"]["object"]["id"]
    assert purchase["status"] == "paid"
    assert (purchase["amount"], purchase["currency"], purchase["credits"]) == (1000, "usd", 250)


def test_the_same_event_delivered_again_changes_nothing(client: TestClient) -> None:
    register(client, "user_1")
    event = paid_session_event(user_id="user_1", credits=100)

    first, second = deliver(client, event), deliver(client, event)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["status"] == "duplicate"
    assert balance(client, "user_1") == 100
    stored = client.get(f"/v1/events/{event['id']}", headers=auth()).json()
    assert stored["delivery_count"] == 2
    assert stored["status"] == "processed"


def test_async_payment_succeeded_after_a_paid_completed_grants_nothing_more(
    client: TestClient,
) -> None:
    register(client, "user_1")
    session = samples.checkout_session(user_id="user_1", credits=100)

    deliver(client, samples.event("checkout.session.completed", session))
    late = deliver(client, samples.event("checkout.session.async_payment_succeeded", session))

    assert late.json()["status"] == "duplicate"
    assert balance(client, "user_1") == 100
