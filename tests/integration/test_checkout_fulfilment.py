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


def test_a_paid_checkout_is_stored_in_the_inbox_with_its_outcome(client: TestClient) -> None:
    register(client, "user_1")
    event = paid_session_event(user_id="user_1", credits=100)

    deliver(client, event)

    stored = client.get(f"/v1/events/{event['id']}", headers=auth()).json()
    assert (stored["type"], stored["status"], stored["error"]) == (
        "checkout.session.completed",
        "processed",
        None,
    )
    assert stored["payload"] == event
    assert stored["processed_at"] is not None


def test_an_event_type_creditflow_does_not_act_on_is_stored_and_acknowledged_as_ignored(
    client: TestClient,
) -> None:
    event = samples.event("customer.created", fixture("customer.json"))

    response = deliver(client, event)

    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    listed = client.get("/v1/events", params={"status": "ignored"}, headers=auth()).json()
    assert [stored["id"] for stored in listed["events"]] == [event["id"]]


def test_a_subscription_mode_checkout_grants_nothing_itself(client: TestClient) -> None:
    """It links the customer to the user (tests/integration/test_subscriptions.py); the
    subscription's invoices grant."""
    register(client, "user_42")
    event = fixture("derived/checkout_session_completed_subscription.json")
    event["data"]["object"]["metadata"] = {"credits": "250"}

    response = deliver(client, event)

    assert response.json()["status"] == "processed"
    assert balance(client, "user_42") == 0
    [purchase] = client.get("/v1/purchases", headers=auth()).json()["purchases"]
    assert (purchase["status"], purchase["credits"]) == ("awaiting_payment", None)


def test_a_paid_checkout_for_a_user_not_registered_yet_is_acknowledged_not_lost(
    client: TestClient,
) -> None:
    event = paid_session_event(user_id="user_later", credits=40)

    response = deliver(client, event)

    assert (response.status_code, response.json()["status"]) == (200, "processed")
    assert register(client, "user_later")["balance"] == 40
