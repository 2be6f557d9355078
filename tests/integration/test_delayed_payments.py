"""Flow 2, delayed payment methods: credits only once the money is there, once per session.

Bodies are the derived Stripe fixtures of one Checkout Session (`cs_test_a1YS...`, user_42), at
each step of its life, with `metadata.credits` set as the app would set it.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support import (
    balance,
    deliver,
    derived_event,
    fixture,
    ledger,
    purchases,
    register,
    stored_event,
)

USER = "user_42"
CREDITS = {"credits": "300"}


def unpaid_completed(**session: Any) -> dict[str, Any]:
    return derived_event(
        "checkout_session_completed_unpaid_delayed.json", **{"metadata": CREDITS, **session}
    )


def async_succeeded(**session: Any) -> dict[str, Any]:
    return derived_event(
        "checkout_session_async_payment_succeeded.json", **{"metadata": CREDITS, **session}
    )


def async_failed(**session: Any) -> dict[str, Any]:
    return derived_event(
        "checkout_session_async_payment_failed.json", **{"metadata": CREDITS, **session}
    )


def the_purchase(client: TestClient) -> dict[str, Any]:
    [purchase] = purchases(client)
    session_id = fixture("derived/checkout_session_completed_unpaid_delayed.json")["data"][
        "object"
    ]["id"]
    assert purchase["checkout_session_id"] == session_id
    return purchase


def test_an_unpaid_completed_session_awaits_payment_and_grants_nothing(client: TestClient) -> None:
    register(client, USER)

    response = deliver(client, unpaid_completed())

    assert response.status_code == 200
    assert response.json()["status"] == "processed"
    purchase = the_purchase(client)
    assert (purchase["status"], purchase["credited_at"]) == ("awaiting_payment", None)
    assert balance(client, USER) == 0
    assert ledger(client, USER) == []


def test_async_payment_succeeded_after_an_unpaid_completed_grants_the_credits_once(
    client: TestClient,
) -> None:
    register(client, USER)
    completed, succeeded = unpaid_completed(), async_succeeded()
    deliver(client, completed)

    response = deliver(client, succeeded)
    again = [deliver(client, succeeded), deliver(client, completed)]

    assert response.json()["status"] == "processed"
    assert [r.json()["status"] for r in again] == ["duplicate", "duplicate"]
    assert balance(client, USER) == 300
    assert [(e["delta"], e["kind"]) for e in ledger(client, USER)] == [(300, "purchase")]
    purchase = the_purchase(client)
    assert (purchase["status"], purchase["credits"]) == ("paid", 300)
    assert purchase["credited_at"] is not None


def test_async_payment_failed_marks_the_purchase_failed_and_grants_nothing(
    client: TestClient,
) -> None:
    register(client, USER)
    deliver(client, unpaid_completed())

    response = deliver(client, async_failed())

    assert response.json()["status"] == "processed"
    assert the_purchase(client)["status"] == "failed"
    assert balance(client, USER) == 0
    assert ledger(client, USER) == []


def test_a_late_unpaid_completed_does_not_turn_a_failed_purchase_back_to_awaiting(
    client: TestClient,
) -> None:
    register(client, USER)
    deliver(client, async_failed())

    late = deliver(client, unpaid_completed())

    assert late.json()["status"] == "duplicate"
    assert the_purchase(client)["status"] == "failed"


def test_an_expired_session_is_recorded_and_grants_nothing(client: TestClient) -> None:
    register(client, USER)
    event = derived_event("checkout_session_expired.json", metadata=CREDITS)

    response = deliver(client, event)

    assert response.json()["status"] == "processed"
    assert stored_event(client, event["id"])["status"] == "processed"
    assert the_purchase(client)["status"] == "expired"
    assert balance(client, USER) == 0


def test_succeeded_arriving_before_the_unpaid_completed_grants_once_and_stays_paid(
    client: TestClient,
) -> None:
    register(client, USER)

    first = deliver(client, async_succeeded())
    late = deliver(client, unpaid_completed())

    assert (first.json()["status"], late.json()["status"]) == ("processed", "duplicate")
    assert the_purchase(client)["status"] == "paid"
    assert balance(client, USER) == 300


def test_every_event_of_the_session_in_any_order_and_repeated_grants_once(
    client: TestClient,
) -> None:
    register(client, USER)
    events = [
        unpaid_completed(),
        async_failed(),
        async_succeeded(),
        derived_event("checkout_session_completed_paid.json", metadata=CREDITS),
    ]

    statuses = [deliver(client, event).status_code for event in [*events, *reversed(events)]]

    assert statuses == [200] * 8
    assert the_purchase(client)["status"] == "paid"
    assert balance(client, USER) == 300
    assert len(ledger(client, USER)) == 1


def test_the_credits_of_the_succeeded_event_are_the_ones_granted(client: TestClient) -> None:
    """The app sets metadata.credits at session creation; the paying event's copy counts."""
    register(client, USER)
    deliver(client, unpaid_completed(metadata={}))  # unpaid: no price needed yet

    response = deliver(client, async_succeeded())

    assert response.json()["status"] == "processed"
    assert balance(client, USER) == 300
