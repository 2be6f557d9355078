"""The pure rules of a subscription invoice's purchase (domain/invoice_purchase.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from creditflow.adapters.stripe.invoices import read_invoice
from creditflow.domain import invoice_purchase
from creditflow.domain.buyers import Buyer
from creditflow.domain.purchase import Grant
from creditflow.domain.purchase_record import NO_CHANGE, Purchase
from creditflow.domain.statuses import DeliveryStatus, PaymentState, PurchaseStatus
from creditflow.domain.subscriptions import InvoiceEvent, InvoiceSignal
from creditflow.errors import NeedsAttention
from tests.invoices import INVOICE_ID, invoice_event
from tests.unit.builders import NOW, a_purchase

EXPIRES = NOW + timedelta(days=31)
USER = Buyer(user_id="user_1", email=None)


def an_invoice_event(signal: InvoiceSignal = InvoiceSignal.PAID, **fields: object) -> InvoiceEvent:
    invoice = read_invoice(invoice_event("basil")["data"]["object"])
    return InvoiceEvent("evt_1", signal, invoice, **fields)  # type: ignore[arg-type]


def an_invoice_purchase(state: PaymentState, **fields: object) -> Purchase:
    defaults: dict[str, object] = {
        "checkout_session_id": None,
        "payment_intent_id": None,
        "invoice_id": INVOICE_ID,
        "payment_state": state,
        "status": PurchaseStatus(state.value),
        "credits_expire_at": EXPIRES,
    }
    return a_purchase(**(defaults | fields))


def test_a_paid_invoice_without_credits_needs_attention() -> None:
    event = an_invoice_event(credits=None, credits_problem="no price")
    with pytest.raises(NeedsAttention, match="no price"):
        invoice_purchase.plan_invoice_grant(event, USER, "user_1")


def test_an_invoice_naming_nobody_plans_no_grant_yet() -> None:
    event = an_invoice_event(credits=100)
    assert invoice_purchase.plan_invoice_grant(event, Buyer(None, None), None) is None


def test_a_new_paid_invoice_posts_its_grant_under_the_invoice_key_with_the_period_expiry() -> None:
    purchase = an_invoice_purchase(PaymentState.PAID)
    decision = invoice_purchase.on_invoice(
        purchase,
        an_invoice_event(credits=100),
        Grant(100, "user_1"),
        USER,
        EXPIRES,
        NOW,
        created=True,
    )
    assert decision.posting is not None
    assert (decision.posting.key, decision.posting.expires_at, decision.posting.delta) == (
        f"invoice:{INVOICE_ID}:grant",
        EXPIRES,
        100,
    )


def test_a_paid_invoice_seen_again_is_a_duplicate() -> None:
    decision = invoice_purchase.on_invoice(
        an_invoice_purchase(PaymentState.PAID),
        an_invoice_event(credits=100),
        Grant(100, "user_1"),
        USER,
        EXPIRES,
        NOW,
        created=False,
    )
    assert (decision.change, decision.outcome, decision.posting) == (
        NO_CHANGE,
        DeliveryStatus.DUPLICATE,
        None,
    )


def test_a_failure_after_the_payment_changes_nothing() -> None:
    decision = invoice_purchase.on_invoice(
        an_invoice_purchase(PaymentState.PAID),
        an_invoice_event(InvoiceSignal.FAILED),
        None,
        USER,
        EXPIRES,
        NOW,
        created=False,
    )
    assert decision.outcome is DeliveryStatus.DUPLICATE


def test_a_payment_after_a_failure_grants() -> None:
    decision = invoice_purchase.on_invoice(
        an_invoice_purchase(PaymentState.FAILED, credited_at=None),
        an_invoice_event(credits=100),
        Grant(100, "user_1"),
        USER,
        EXPIRES,
        NOW,
        created=False,
    )
    assert decision.change.payment_state is PaymentState.PAID
    assert decision.posting is not None
    assert decision.posting.delta == 100


def test_credits_already_expired_when_processed_need_attention() -> None:
    with pytest.raises(NeedsAttention, match="expired"):
        invoice_purchase.on_invoice(
            an_invoice_purchase(PaymentState.PAID, credits_expire_at=NOW),
            an_invoice_event(credits=100),
            Grant(100, "user_1"),
            USER,
            NOW,
            NOW,
            created=True,
        )


def test_the_session_credits_a_paid_invoice_that_named_nobody() -> None:
    purchase = an_invoice_purchase(PaymentState.PAID, user_id=None, credited_at=None)
    decision = invoice_purchase.on_checkout(purchase, USER, "user_1", NOW)
    assert decision is not None
    assert decision.posting is not None
    assert decision.posting.key == f"invoice:{INVOICE_ID}:grant"


def test_the_session_leaves_a_credited_or_parked_invoice_alone() -> None:
    credited = an_invoice_purchase(PaymentState.PAID)
    parked = an_invoice_purchase(PaymentState.PAID, user_id=None, email="a@b.c", credited_at=None)
    for purchase in (credited, parked):
        assert invoice_purchase.on_checkout(purchase, USER, "user_1", NOW) is None
