"""Subscriptions: each paid invoice grants its period's credits once, in both API shapes.

Payloads are Stripe's example invoice and subscription Checkout Session (tests/invoices.py);
every case runs on SQLite and PostgreSQL, and keeps exactly one grant per invoice.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.conftest import ClientFactory
from tests.fakes.stripe_api import FakeStripeApi
from tests.integration.test_concurrency import delivery_to
from tests.invoices import (
    CUSTOMER_ID,
    INVOICE_ID,
    PRICE_ID,
    SHAPES,
    Shape,
    invoice_event,
    subscription_checkout_event,
)
from tests.servers import all_at_once
from tests.support import (
    ManualClock,
    balance,
    deliver,
    expire_due,
    ledger,
    pending_grants,
    register,
    stored_event,
)

USER = "user_42"  # the subscription Checkout Session's client_reference_id
CREDITS = 1000
GRACE = timedelta(days=1)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(client_for: ClientFactory, clock: ManualClock, catalog: Path) -> TestClient:
    return subscription_app(client_for, clock, catalog)


def subscription_app(client_for: ClientFactory, clock: ManualClock, catalog: Path) -> TestClient:
    """The app on the manual clock, with a catalog giving PRICE_ID CREDITS per period."""
    catalog.write_text(f"[prices.{PRICE_ID}]\ncredits = {CREDITS}\n")
    return client_for(clock=clock, catalog_path=catalog, expiry_interval_seconds=0)


def period_end(clock: ManualClock, days: int = 30) -> int:
    return int((clock.now + timedelta(days=days)).timestamp())


def paid(shape: Shape, clock: ManualClock, **kwargs: Any) -> dict[str, Any]:
    return invoice_event(shape, period_end=period_end(clock), **kwargs)


def status(response: Any) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def grants(client: TestClient, user_id: str = USER) -> list[dict[str, Any]]:
    return [entry for entry in ledger(client, user_id) if entry["kind"] == "purchase"]


@pytest.mark.parametrize("shape", SHAPES)
def test_the_session_then_the_first_invoice_grants_once(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    register(app, USER)

    assert status(deliver(app, subscription_checkout_event())) == "processed"
    assert balance(app, USER) == 0
    assert status(deliver(app, paid(shape, clock))) == "processed"

    assert balance(app, USER) == CREDITS
    [entry] = grants(app)
    end = datetime.fromtimestamp(period_end(clock), UTC)
    assert datetime.fromisoformat(entry["expires_at"]) == end + GRACE


@pytest.mark.parametrize("shape", SHAPES)
def test_the_first_invoice_before_its_session_is_credited_by_the_session(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    register(app, USER)

    assert status(deliver(app, paid(shape, clock))) == "processed"
    assert balance(app, USER) == 0  # the invoice names no user and no e-mail
    assert status(deliver(app, subscription_checkout_event())) == "processed"
    assert balance(app, USER) == CREDITS
    assert status(deliver(app, subscription_checkout_event(event_id="evt_again"))) == "duplicate"

    assert balance(app, USER) == CREDITS
    assert len(grants(app)) == 1


@pytest.mark.parametrize("shape", SHAPES)
def test_the_user_the_session_stored_on_the_invoice_row_gets_its_credits(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    """What a session and its invoice processed at once come to: the invoice missed the
    customer link, and finds the session's user on the invoice's row instead."""
    register(app, USER)

    assert status(deliver(app, subscription_checkout_event(customer=None))) == "processed"
    assert status(deliver(app, paid(shape, clock))) == "processed"

    assert balance(app, USER) == CREDITS
    assert len(grants(app)) == 1


@pytest.mark.parametrize("shape", SHAPES)
def test_an_unpaid_session_then_a_failed_invoice_grant_nothing(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    """An `incomplete` subscription: its session completes unpaid, its invoice fails."""
    register(app, USER)
    session = subscription_checkout_event(payment_status="unpaid")
    failed = paid(shape, clock, event_type="invoice.payment_failed")

    assert status(deliver(app, session)) == "processed"
    assert status(deliver(app, failed)) == "processed"
    assert balance(app, USER) == 0
    assert status(deliver(app, paid(shape, clock))) == "processed"

    assert balance(app, USER) == CREDITS


@pytest.mark.parametrize("shape", SHAPES)
def test_an_invoice_naming_its_user_grants_without_any_session(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    register(app, "user_7")

    assert status(deliver(app, paid(shape, clock, metadata={"user_id": "user_7"}))) == "processed"

    assert balance(app, "user_7") == CREDITS


@pytest.mark.parametrize("shape", SHAPES)
def test_subscription_metadata_credits_win_over_the_catalog(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    register(app, "user_7")
    event = paid(shape, clock, metadata={"user_id": "user_7", "credits": "30"}, quantity=2)

    assert status(deliver(app, event)) == "processed"

    assert balance(app, "user_7") == 60


@pytest.mark.parametrize("shape", SHAPES)
def test_the_customer_email_finds_the_user_case_insensitively(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    register(app, "user_ana", "ana@example.com")

    assert status(deliver(app, paid(shape, clock, customer_email="Ana@EXAMPLE.com"))) == (
        "processed"
    )

    assert balance(app, "user_ana") == CREDITS


@pytest.mark.parametrize("shape", SHAPES)
def test_an_unregistered_user_gets_a_pending_grant_claimed_once_with_the_period_expiry(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    deliver(app, paid(shape, clock, metadata={"user_id": "user_later"}))
    [pending] = pending_grants(app)
    assert (pending["user_id"], pending["credits"]) == ("user_later", CREDITS)

    register(app, "user_later")

    assert balance(app, "user_later") == CREDITS
    [entry] = grants(app, "user_later")
    end = datetime.fromtimestamp(period_end(clock), UTC)
    assert datetime.fromisoformat(entry["expires_at"]) == end + GRACE
    assert pending_grants(app) == []


@pytest.mark.parametrize("shape", SHAPES)
def test_a_pending_grant_claimed_after_its_period_is_granted_and_expires_at_once(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    deliver(app, paid(shape, clock, metadata={"user_id": "user_later"}))
    clock.now = datetime.fromtimestamp(period_end(clock), UTC) + GRACE

    assert register(app, "user_later")["balance"] == CREDITS
    clock.now += timedelta(seconds=1)

    assert expire_due(app) == CREDITS
    assert balance(app, "user_later") == 0
    assert [entry["kind"] for entry in ledger(app, "user_later")] == ["expiry", "purchase"]


@pytest.mark.parametrize("shape", SHAPES)
def test_later_invoices_find_the_user_through_the_stored_customer_link(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    register(app, USER)
    deliver(app, subscription_checkout_event())
    deliver(app, paid(shape, clock))

    cycle = paid(shape, clock, invoice_id="in_cycle_2", billing_reason="subscription_cycle")
    assert cycle["data"]["object"]["customer"] == CUSTOMER_ID
    assert status(deliver(app, cycle)) == "processed"

    assert balance(app, USER) == 2 * CREDITS
    assert len(grants(app)) == 2


@pytest.mark.parametrize("shape", SHAPES)
def test_a_duplicate_invoice_paid_under_a_new_event_id_grants_nothing_more(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    register(app, "user_7")
    first = paid(shape, clock, metadata={"user_id": "user_7"}, event_id="evt_paid_1")
    again = paid(shape, clock, metadata={"user_id": "user_7"}, event_id="evt_paid_2")

    assert status(deliver(app, first)) == "processed"
    assert status(deliver(app, again)) == "duplicate"

    assert balance(app, "user_7") == CREDITS
    assert len(grants(app, "user_7")) == 1


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "order",
    [("invoice.payment_succeeded", "invoice.paid"), ("invoice.paid", "invoice.payment_succeeded")],
)
def test_payment_succeeded_and_paid_of_one_invoice_grant_once(
    app: TestClient, clock: ManualClock, shape: Shape, order: tuple[str, str]
) -> None:
    register(app, "user_7")
    outcomes = [
        status(deliver(app, paid(shape, clock, event_type=kind, metadata={"user_id": "user_7"})))
        for kind in order
    ]

    assert outcomes == ["processed", "duplicate"]
    assert balance(app, "user_7") == CREDITS
    assert len(grants(app, "user_7")) == 1


@pytest.mark.parametrize("shape", SHAPES)
def test_a_failed_invoice_grants_nothing_until_it_is_paid(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    register(app, "user_7")
    meta = {"user_id": "user_7"}
    failed = paid(shape, clock, event_type="invoice.payment_failed", metadata=meta)

    assert status(deliver(app, failed)) == "processed"
    assert status(deliver(app, failed | {"id": "evt_failed_again"})) == "duplicate"
    assert balance(app, "user_7") == 0
    assert status(deliver(app, paid(shape, clock, metadata=meta))) == "processed"
    assert status(deliver(app, failed | {"id": "evt_failed_late"})) == "duplicate"

    assert balance(app, "user_7") == CREDITS
    assert len(grants(app, "user_7")) == 1


@pytest.mark.parametrize("shape", SHAPES)
def test_a_period_resets_at_its_end_plus_the_grace(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    register(app, "user_7")
    deliver(app, paid(shape, clock, metadata={"user_id": "user_7"}))
    end = datetime.fromtimestamp(period_end(clock), UTC)

    clock.now = end + GRACE - timedelta(seconds=1)
    assert expire_due(app) == 0
    assert balance(app, "user_7") == CREDITS
    clock.now = end + GRACE
    assert expire_due(app) == CREDITS

    assert balance(app, "user_7") == 0


@pytest.mark.parametrize("shape", SHAPES)
def test_a_rollover_price_grants_credits_that_never_expire(
    app: TestClient, clock: ManualClock, catalog: Path, shape: Shape
) -> None:
    catalog.write_text(f"[prices.{PRICE_ID}]\ncredits = {CREDITS}\nrollover = true\n")
    register(app, "user_7")
    deliver(app, paid(shape, clock, metadata={"user_id": "user_7"}))
    [entry] = grants(app, "user_7")
    assert entry["expires_at"] is None

    clock.now += timedelta(days=365)
    assert expire_due(app) == 0
    assert balance(app, "user_7") == CREDITS


@pytest.mark.parametrize("shape", SHAPES)
def test_an_invoice_no_rule_prices_needs_attention_and_grants_nothing(
    app: TestClient, clock: ManualClock, catalog: Path, shape: Shape
) -> None:
    register(app, "user_7")
    catalog.write_text("# nothing priced\n")
    event = paid(shape, clock, metadata={"user_id": "user_7"})

    assert status(deliver(app, event)) == "needs_attention"
    assert PRICE_ID in stored_event(app, event["id"])["error"]
    assert balance(app, "user_7") == 0


@pytest.mark.parametrize("shape", SHAPES)
def test_a_price_missing_from_the_catalog_is_priced_by_its_own_metadata_through_the_api(
    client_for: ClientFactory, fake_stripe: FakeStripeApi, clock: ManualClock, shape: Shape
) -> None:
    fake_stripe.add_price(PRICE_ID, unit_amount=2000, credits="75")
    app = client_for(
        clock=clock,
        stripe_secret_key=SecretStr(fake_stripe.api_key),
        stripe_api_base=fake_stripe.base_url,
    )
    register(app, "user_7")

    assert status(deliver(app, paid(shape, clock, metadata={"user_id": "user_7"}))) == ("processed")

    assert balance(app, "user_7") == 75


def test_an_invoice_of_no_subscription_is_ignored(app: TestClient, clock: ManualClock) -> None:
    event = paid("legacy", clock, subscription=None)

    assert status(deliver(app, event)) == "ignored"
    assert INVOICE_ID in stored_event(app, event["id"])["error"]


@pytest.mark.parametrize("shape", SHAPES)
def test_concurrent_deliveries_of_one_invoice_grant_once(live_server: str, shape: Shape) -> None:
    with httpx.Client(base_url=live_server, timeout=120) as client:
        register(client, "user_7")
    end = int((datetime.now(UTC) + timedelta(days=30)).timestamp())
    meta = {"user_id": "user_7", "credits": "100"}
    events = [
        invoice_event(shape, event_type=kind, event_id=f"evt_{n}", metadata=meta, period_end=end)
        for n, kind in enumerate(["invoice.paid", "invoice.payment_succeeded"] * 10)
    ]

    results = all_at_once([partial(delivery_to, live_server, event) for event in events])

    assert sorted(Counter(results).items()) == [((200, "duplicate"), 19), ((200, "processed"), 1)]
    with httpx.Client(base_url=live_server, timeout=120) as client:
        assert balance(client, "user_7") == 100


@pytest.mark.parametrize("shape", SHAPES)
def test_sessions_and_their_first_invoices_at_once_each_grant_once(
    live_server: str, shape: Shape
) -> None:
    """The invoice names nobody; its session names the user: whichever commits first, the
    credits reach the user once."""
    pairs = 8
    end = int((datetime.now(UTC) + timedelta(days=30)).timestamp())
    with httpx.Client(base_url=live_server, timeout=120) as client:
        for n in range(pairs):
            register(client, f"user_{n}")
    calls = []
    for n in range(pairs):
        customer, invoice = f"cus_race_{n}", f"in_race_{n}"
        session = subscription_checkout_event(
            event_id=f"evt_session_{n}",
            client_reference_id=f"user_{n}",
            customer=customer,
            invoice=invoice,
            id=f"cs_race_{n}",
        )
        event = invoice_event(
            shape,
            invoice_id=invoice,
            period_end=end,
            metadata={"credits": "100"},
            customer=customer,
        )
        calls += [
            partial(delivery_to, live_server, session),
            partial(delivery_to, live_server, event),
        ]

    results = all_at_once(calls)

    assert {code for code, _ in results} == {200}
    with httpx.Client(base_url=live_server, timeout=120) as client:
        assert [balance(client, f"user_{n}") for n in range(pairs)] == [100] * pairs
