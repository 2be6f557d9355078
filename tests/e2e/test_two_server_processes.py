"""Two creditflow server processes on one PostgreSQL database: still one grant per payment.

This is how creditflow scales out: stateless `uvicorn` processes sharing one database, each
configured only through its environment. Deliveries of the same events are spread across both
and sent all at once, so the two processes race for the same rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from creditflow.adapters.stripe import samples
from tests.invoices import SHAPES, Shape, invoice_event, subscription_checkout_event
from tests.servers import all_at_once, server_processes
from tests.support import (
    assert_ledger_matches_balances,
    auth,
    balance,
    deliver,
    ledger,
    pending_grants,
    purchases,
    register,
    server_environment,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

SERVERS = 2


@pytest.fixture
def servers(postgres_url: str, tmp_path: Path) -> Iterator[list[str]]:
    env = server_environment(postgres_url)
    with server_processes(SERVERS, env, tmp_path) as urls:
        yield urls
    assert_ledger_matches_balances(postgres_url)


def delivery_to(url: str, event: dict[str, Any]) -> tuple[int, str]:
    with httpx.Client(base_url=url, timeout=120) as client:
        response = deliver(client, event)
        return response.status_code, response.json().get("status", response.text)


def test_fifty_deliveries_of_one_event_spread_over_two_processes_grant_once(
    servers: list[str],
) -> None:
    first, second = servers
    with httpx.Client(base_url=first, timeout=30) as client:
        register(client, "user_1")
    event = samples.event(
        "checkout.session.completed", samples.checkout_session(user_id="user_1", credits=100)
    )

    results = all_at_once(
        [partial(delivery_to, servers[index % SERVERS], event) for index in range(50)]
    )

    assert Counter(results) == {(200, "processed"): 1, (200, "duplicate"): 49}
    with httpx.Client(base_url=second, timeout=30) as client:
        assert balance(client, "user_1") == 100
        assert [entry["delta"] for entry in ledger(client, "user_1")] == [100]


def test_many_payments_each_delivered_several_times_over_two_processes_grant_once_each(
    servers: list[str],
) -> None:
    """Ten sessions; each arrives as `completed` (three deliveries of one event) and as
    `async_payment_succeeded` (two deliveries of another), spread over both processes."""
    with httpx.Client(base_url=servers[0], timeout=30) as client:
        register(client, "user_1")
    credits = [10 * (n + 1) for n in range(10)]
    sessions = [samples.checkout_session(user_id="user_1", credits=c) for c in credits]
    deliveries = []
    for session in sessions:
        completed = samples.event("checkout.session.completed", session)
        succeeded = samples.event("checkout.session.async_payment_succeeded", session)
        deliveries += [completed] * 3 + [succeeded] * 2

    results = all_at_once(
        [
            partial(delivery_to, servers[index % SERVERS], event)
            for index, event in enumerate(deliveries)
        ]
    )

    assert Counter(results) == {(200, "processed"): 10, (200, "duplicate"): 40}
    with httpx.Client(base_url=servers[1], timeout=30) as client:
        assert balance(client, "user_1") == sum(credits)
        assert sorted(entry["delta"] for entry in ledger(client, "user_1")) == credits
        assert {purchase["status"] for purchase in purchases(client, "user_1")} == {"paid"}


def test_registrations_spread_over_two_processes_claim_a_pending_grant_once(
    servers: list[str],
) -> None:
    session = samples.checkout_session(email="newcomer@example.com", credits=500)
    assert delivery_to(servers[0], samples.event("checkout.session.completed", session)) == (
        200,
        "processed",
    )

    def registration(url: str) -> dict[str, Any]:
        with httpx.Client(base_url=url, timeout=120) as client:
            response = client.put(
                "/v1/users/user_new", json={"email": "Newcomer@example.com"}, headers=auth()
            )
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

    results = all_at_once([partial(registration, servers[i % SERVERS]) for i in range(20)])

    assert sum(len(body["claimed"]) for body in results) == 1
    with httpx.Client(base_url=servers[1], timeout=30) as client:
        assert balance(client, "user_new") == 500
        assert pending_grants(client) == []


@pytest.mark.parametrize("shape", SHAPES)
def test_a_storm_of_one_invoices_deliveries_over_two_processes_grants_once(
    servers: list[str], shape: Shape
) -> None:
    """`invoice.paid` and `invoice.payment_succeeded` of one invoice, each redelivered and sent
    again under new event ids, with its subscription's Checkout Session, spread over both
    processes at once: whichever wins, one grant, to the session's user."""
    with httpx.Client(base_url=servers[0], timeout=30) as client:
        register(client, "user_42")  # the session's client_reference_id
    end = int((datetime.now(UTC) + timedelta(days=30)).timestamp())
    deliveries = [subscription_checkout_event()] * 4
    for n in range(3):
        for kind in ("invoice.paid", "invoice.payment_succeeded"):
            event = invoice_event(
                shape, event_type=kind, event_id=f"evt_{kind}_{n}", metadata={"credits": "100"}
            )
            event["data"]["object"]["lines"]["data"][0]["period"]["end"] = end
            deliveries += [event] * 4

    results = all_at_once(
        [
            partial(delivery_to, servers[index % SERVERS], event)
            for index, event in enumerate(deliveries)
        ]
    )

    assert {code for code, _ in results} == {200}
    with httpx.Client(base_url=servers[1], timeout=30) as client:
        assert balance(client, "user_42") == 100
        assert [entry["kind"] for entry in ledger(client, "user_42")] == ["purchase"]
