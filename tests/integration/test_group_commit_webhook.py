"""The webhook with group commit on (CREDITFLOW_GROUP_COMMIT): the route awaits the delivery
batcher, with no thread per request. The delivery tests of test_delivery_failure.py,
test_delayed_payments.py and test_catalog_and_replay.py answer the same (line items read from
the fake Stripe in a thread, failures recorded as unbatched); concurrent deliveries over real
HTTP, a tenth of them duplicates, credit each payment once and share transactions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from creditflow.adapters.stripe import samples
from creditflow.entrypoints.http.app import create_app
from tests.integration import test_catalog_and_replay, test_delayed_payments, test_delivery_failure
from tests.servers import serve_in_thread, wait_until_healthy
from tests.support import (
    assert_database_audit_clean,
    assert_ledger_matches_balances,
    balance,
    container,
    deliver,
    make_settings,
    register,
    stored_event,
)

# The delivery tests, collected here again: every app they build has group commit on.
for _module in (test_delivery_failure, test_delayed_payments, test_catalog_and_replay):
    globals().update(
        {
            name: value
            for name, value in vars(_module).items()
            if name.startswith("test_") or name == "stripe_client"
        }
    )


@pytest.fixture(autouse=True)
def group_commit_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITFLOW_GROUP_COMMIT", "true")


def test_the_webhook_goes_through_the_delivery_batcher(client: TestClient) -> None:
    batched = container(client).batched_deliveries
    assert batched is not None
    register(client, "user_1")

    response = deliver(client, samples.event("checkout.session.completed", paid("user_1", 5)))

    assert (response.status_code, response.json()["status"]) == (200, "processed")
    assert batched.batcher.batch_sizes == [1]
    assert balance(client, "user_1") == 5


def paid(user_id: str, credits: int) -> dict[str, Any]:
    return samples.checkout_session(user_id=user_id, credits=credits)


@pytest.fixture
def batching_server(database_url: str) -> Iterator[tuple[str, Any]]:
    """The app under uvicorn with group commit on, and its container (to read batch sizes)."""
    app = create_app(make_settings(database_url, group_commit=True))
    with serve_in_thread(app) as url:
        wait_until_healthy(url)
        yield url, app.state.container
    assert_ledger_matches_balances(database_url)
    assert_database_audit_clean(database_url)


def test_concurrent_deliveries_over_http_with_a_tenth_duplicates_credit_each_payment_once(
    batching_server: tuple[str, Any],
) -> None:
    url, services = batching_server
    users = [f"user_{i}" for i in range(8)]
    with httpx.Client(base_url=url) as client:
        for user in users:
            register(client, user)
    events = [
        samples.event("checkout.session.completed", paid(users[i % 8], 10)) for i in range(90)
    ]
    sent = [*events, *events[::9]]  # 10 duplicates, sent while the others are in flight

    def send(event: dict[str, Any]) -> tuple[str, int, str]:
        with httpx.Client(base_url=url, timeout=60) as client:
            response = deliver(client, event)
            return event["id"], response.status_code, response.json()["status"]

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, sent))

    assert {code for _, code, _ in answers} == {200}
    by_event: dict[str, Counter[str]] = {}
    for event_id, _, status in answers:
        by_event.setdefault(event_id, Counter())[status] += 1
    assert len(by_event) == 90
    once = Counter(processed=1)
    assert all(c == once or c == Counter(processed=1, duplicate=1) for c in by_event.values())
    assert sum(c["duplicate"] for c in by_event.values()) == 10
    with httpx.Client(base_url=url) as client:
        assert [balance(client, user) for user in users] == [120, 120] + [110] * 6
        assert stored_event(client, events[0]["id"])["status"] == "processed"
    batcher = services.batched_deliveries.batcher
    assert max(batcher.batch_sizes) > 1  # requests did share transactions
    assert sum(batcher.batch_sizes) == 100
