"""Concurrent requests against a real server (uvicorn on a real port): still exactly once.

Each test releases its requests together from a barrier, so they overlap in the server's
worker threads and race on the database like Stripe's retries and parallel deliveries do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx

from creditflow.adapters.stripe import samples
from tests.servers import all_at_once
from tests.support import (
    auth,
    balance,
    deliver,
    derived_event,
    ledger,
    pending_grants,
    purchases,
    register,
    stored_event,
)

CONCURRENT_DELIVERIES = 50
CONCURRENT_REGISTRATIONS = 20


def http(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=120)


def delivery_to(url: str, event: dict[str, Any]) -> tuple[int, str]:
    with http(url) as client:
        response = deliver(client, event)
        return response.status_code, response.json().get("status", response.text)


def registration_at(url: str, user_id: str, email: str) -> tuple[int, dict[str, Any]]:
    with http(url) as client:
        response = client.put(f"/v1/users/{user_id}", json={"email": email}, headers=auth())
        return response.status_code, response.json()


def test_fifty_concurrent_deliveries_of_one_event_grant_once_and_all_answer_200(
    live_server: str,
) -> None:
    with http(live_server) as client:
        register(client, "user_1")
    event = samples.event(
        "checkout.session.completed", samples.checkout_session(user_id="user_1", credits=100)
    )

    results = all_at_once([partial(delivery_to, live_server, event)] * CONCURRENT_DELIVERIES)

    assert Counter(results) == {(200, "processed"): 1, (200, "duplicate"): 49}
    with http(live_server) as client:
        assert balance(client, "user_1") == 100
        assert [entry["delta"] for entry in ledger(client, "user_1")] == [100]
        stored = stored_event(client, event["id"])
        assert (stored["status"], stored["delivery_count"]) == ("processed", 50)


def test_fifty_concurrent_different_events_for_one_checkout_session_grant_once(
    live_server: str,
) -> None:
    """`completed` and `async_payment_succeeded`, each under its own event id, all at once."""
    with http(live_server) as client:
        register(client, "user_42")
    metadata = {"credits": "300"}
    events = [
        derived_event(
            "checkout_session_completed_paid.json"
            if index % 2
            else "checkout_session_async_payment_succeeded.json",
            event_id=f"evt_concurrent_{index:02d}",
            metadata=metadata,
        )
        for index in range(CONCURRENT_DELIVERIES)
    ]

    results = all_at_once([partial(delivery_to, live_server, event) for event in events])

    assert Counter(results) == {(200, "processed"): 1, (200, "duplicate"): 49}
    with http(live_server) as client:
        assert balance(client, "user_42") == 300
        assert len(ledger(client, "user_42")) == 1
        [purchase] = purchases(client)
        assert (purchase["status"], purchase["credits"]) == ("paid", 300)


def test_twenty_concurrent_registrations_of_one_user_claim_a_pending_grant_once(
    live_server: str,
) -> None:
    with http(live_server) as client:
        session = samples.checkout_session(email="Newcomer@example.com", credits=500)
        deliver(client, samples.event("checkout.session.completed", session))
        assert len(pending_grants(client)) == 1

    results = all_at_once(
        [partial(registration_at, live_server, "user_new", "newcomer@example.com")]
        * CONCURRENT_REGISTRATIONS
    )

    assert [status for status, _ in results] == [200] * CONCURRENT_REGISTRATIONS
    assert sum(body["created"] for _, body in results) == 1
    assert sum(len(body["claimed"]) for _, body in results) == 1
    with http(live_server) as client:
        assert balance(client, "user_new") == 500
        assert pending_grants(client) == []


def test_payments_from_an_unknown_email_racing_its_registration_are_each_credited_once(
    live_server: str,
) -> None:
    """Each payment lands either in the wallet or in a pending grant the registration claims:
    never stranded as a grant nobody claims, never both. One registration per round, so a later
    one cannot tidy up what an earlier one missed."""
    rounds, payments_per_round = 5, 19
    for round_ in range(rounds):
        email, user_id = f"racer{round_}@example.com", f"user_racer_{round_}"
        payments = [
            samples.event(
                "checkout.session.completed",
                samples.checkout_session(email=email.upper(), credits=credits),
            )
            for credits in range(1, payments_per_round + 1)
        ]
        calls: list[Callable[[], tuple[int, object]]] = [
            partial(delivery_to, live_server, event) for event in payments
        ]
        calls.insert(len(calls) // 2, partial(registration_at, live_server, user_id, email))

        results = all_at_once(calls)

        assert [result[0] for result in results] == [200] * len(calls)
        with http(live_server) as client:
            assert pending_grants(client) == []
            assert balance(client, user_id) == sum(range(1, payments_per_round + 1))
            assert len(ledger(client, user_id)) == payments_per_round
