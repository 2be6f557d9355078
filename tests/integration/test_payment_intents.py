"""Flow 5: PaymentIntents from the app's own payment form, and their Checkout twins.

`payment_intent.succeeded` with `metadata.user_id` / `metadata.credits` buys credits through the
same grant path as a Checkout Session. A PaymentIntent that a Checkout Session created is the same
payment as that session: one purchase, one grant, whichever event arrives first. Bodies are
Stripe's example PaymentIntent, succeeded, with the app's metadata.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from creditflow.adapters.stripe import samples
from tests.support import (
    balance,
    delivered,
    ledger,
    paid_session_event,
    payment_intent_event,
    pending_grants,
    purchase_paid_by,
    purchases,
    register,
    stored_event,
    story,
)

USER = "user_1"


def succeeded(intent_id: str, **metadata: str) -> dict[str, Any]:
    return payment_intent_event(id=intent_id, metadata=metadata)


def test_a_succeeded_payment_intent_with_the_apps_metadata_buys_the_credits(
    client: TestClient,
) -> None:
    register(client, USER)
    intent = samples.new_id("pi")

    assert delivered(client, succeeded(intent, user_id=USER, credits="250")) == "processed"

    assert balance(client, USER) == 250
    entry = ledger(client, USER)[0]
    assert (entry["kind"], entry["delta"], entry["reference"]) == ("purchase", 250, intent)
    purchase = purchase_paid_by(client, intent)
    assert (purchase["status"], purchase["checkout_session_id"], purchase["amount"]) == (
        "paid",
        None,
        1000,
    )


def test_a_payment_intent_delivered_again_grants_nothing_more(client: TestClient) -> None:
    register(client, USER)
    event = succeeded(samples.new_id("pi"), user_id=USER, credits="250")
    delivered(client, event)
    reported_again = succeeded(event["data"]["object"]["id"], user_id=USER, credits="250")

    again = [delivered(client, event), delivered(client, reported_again)]

    assert again == ["duplicate", "duplicate"]
    assert story(client, USER) == [("purchase", 250)]


@pytest.mark.parametrize(
    ("intent_first", "second_outcome"),
    # The session arriving second still teaches the purchase its checkout session id.
    [(True, "processed"), (False, "duplicate")],
    ids=["intent-first", "session-first"],
)
def test_a_payment_intent_and_its_checkout_session_are_one_payment_granted_once(
    client: TestClient, intent_first: bool, second_outcome: str
) -> None:
    register(client, USER)
    intent = samples.new_id("pi")
    session = paid_session_event(user_id=USER, credits=100, payment_intent_id=intent)
    intent_event = succeeded(intent, user_id=USER, credits="100")
    events = [intent_event, session] if intent_first else [session, intent_event]

    outcomes = [delivered(client, event) for event in events]

    assert outcomes == ["processed", second_outcome]
    assert balance(client, USER) == 100
    assert story(client, USER) == [("purchase", 100)]
    [purchase] = purchases(client)
    assert (purchase["payment_intent_id"], purchase["checkout_session_id"]) == (
        intent,
        session["data"]["object"]["id"],
    )


def test_a_checkout_payment_intent_without_the_apps_metadata_is_acknowledged_and_ignored(
    client: TestClient,
) -> None:
    """Checkout's own PaymentIntents carry no creditflow metadata: their session grants."""
    register(client, USER)
    event = succeeded(samples.new_id("pi"))

    assert delivered(client, event) == "ignored"
    assert stored_event(client, event["id"])["status"] == "ignored"
    assert purchases(client) == []


def test_a_payment_intent_without_credits_is_parked_as_needs_attention(
    client: TestClient,
) -> None:
    register(client, USER)
    event = succeeded(samples.new_id("pi"), user_id=USER)

    assert delivered(client, event) == "needs_attention"
    assert "metadata.credits" in stored_event(client, event["id"])["error"]
    assert balance(client, USER) == 0


def test_a_failed_payment_intent_marks_the_purchase_failed_and_grants_nothing(
    client: TestClient,
) -> None:
    register(client, USER)
    intent = samples.new_id("pi")
    failed = payment_intent_event(
        "payment_intent.payment_failed",
        id=intent,
        status="requires_payment_method",
        metadata={"user_id": USER, "credits": "100"},
    )

    assert delivered(client, failed) == "processed"

    assert purchase_paid_by(client, intent)["status"] == "failed"
    assert balance(client, USER) == 0


def test_a_payment_intent_for_a_user_not_registered_yet_waits_as_a_pending_grant(
    client: TestClient,
) -> None:
    intent = samples.new_id("pi")

    delivered(client, succeeded(intent, user_id="user_later", credits="100"))

    assert [(g["user_id"], g["credits"]) for g in pending_grants(client)] == [("user_later", 100)]
    assert register(client, "user_later")["balance"] == 100
    assert story(client, "user_later") == [("purchase", 100)]
