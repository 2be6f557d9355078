"""Money back on a subscription payment: a refund or dispute of an invoice's PaymentIntent
claws back from that invoice's grant, under the same policies as one-off purchases.

Before 2025-03-31 the invoice names its PaymentIntent; since, `invoice_payment.paid` does.
Both shapes, both engines, in either order of the link and the refund.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ClientFactory
from tests.integration.test_subscription_lifecycle import period, subscribed
from tests.integration.test_subscriptions import CREDITS, USER, status, subscription_app
from tests.invoices import SHAPES, Shape, paid_with
from tests.support import ManualClock, balance, deliver, ledger, money_back_event, purchases

PI = "pi_cycle_1"
AMOUNT = 2000  # the example invoice's amount_paid


def refunded(amount_refunded: int) -> dict[str, Any]:
    """`charge.refunded` of the cycle's payment, with its running total of refunds."""
    return money_back_event(
        "charge_refunded_partial.json", PI, amount=AMOUNT, amount_refunded=amount_refunded
    )


def cycle_purchase(app: TestClient) -> dict[str, Any]:
    [found] = [p for p in purchases(app, USER) if p["payment_intent_id"] == PI]
    return found


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def app_for(client_for: ClientFactory, clock: ManualClock, catalog: Path) -> TestClient:
    return subscription_app(client_for, clock, catalog)


@pytest.mark.parametrize("shape", SHAPES)
def test_a_refund_of_a_cycles_payment_takes_back_from_that_invoices_grant(
    client_for: ClientFactory, clock: ManualClock, catalog: Path, shape: Shape
) -> None:
    app = app_for(client_for, clock, catalog)
    subscribed(app, shape, clock)
    for event in paid_with(shape, PI, period(shape, clock, 1)):
        assert status(deliver(app, event)) == "processed"
    assert balance(app, USER) == 2 * CREDITS

    assert status(deliver(app, refunded(AMOUNT // 2))) == "processed"

    assert balance(app, USER) == 2 * CREDITS - CREDITS // 2
    found = cycle_purchase(app)
    assert (found["status"], found["credits_refunded"]) == ("partially_refunded", CREDITS // 2)
    [refund] = [entry for entry in ledger(app, USER) if entry["kind"] == "refund"]
    assert refund["delta"] == -(CREDITS // 2)


@pytest.mark.parametrize("shape", SHAPES)
def test_a_refund_seen_before_the_invoice_applies_once_it_is_granted(
    client_for: ClientFactory, clock: ManualClock, catalog: Path, shape: Shape
) -> None:
    app = app_for(client_for, clock, catalog)
    subscribed(app, shape, clock)
    assert status(deliver(app, refunded(AMOUNT))) == "processed"  # waits, unmatched

    events = paid_with(shape, PI, period(shape, clock, 1))
    for event in reversed(events):  # basil: the link first, then the invoice
        assert status(deliver(app, event)) == "processed"

    assert balance(app, USER) == CREDITS
    found = cycle_purchase(app)
    assert (found["status"], found["credits"], found["credits_refunded"]) == (
        "refunded",
        CREDITS,
        CREDITS,
    )


def test_the_invoice_payment_link_before_its_invoice_still_grants_once(
    client_for: ClientFactory, clock: ManualClock, catalog: Path
) -> None:
    app = app_for(client_for, clock, catalog)
    subscribed(app, "basil", clock)
    invoice, link = paid_with("basil", PI, period("basil", clock, 1))

    assert status(deliver(app, link)) == "processed"
    assert status(deliver(app, link | {"id": "evt_link_again"})) == "duplicate"
    assert status(deliver(app, invoice)) == "processed"
    assert balance(app, USER) == 2 * CREDITS

    dispute = money_back_event("charge_dispute_created.json", PI, amount=AMOUNT)
    assert status(deliver(app, dispute)) == "processed"
    assert balance(app, USER) == CREDITS  # the cycle's credits held while disputed
    assert cycle_purchase(app)["credits_held"] == CREDITS


def test_a_refund_between_the_invoice_and_its_late_link_needs_attention(
    client_for: ClientFactory, clock: ManualClock, catalog: Path
) -> None:
    """Two purchases would then hold one payment: not merged, an operator is asked."""
    app = app_for(client_for, clock, catalog)
    subscribed(app, "basil", clock)
    invoice, link = paid_with("basil", PI, period("basil", clock, 1))
    deliver(app, invoice)
    deliver(app, refunded(AMOUNT))

    assert status(deliver(app, link)) == "needs_attention"
    assert balance(app, USER) == 2 * CREDITS
