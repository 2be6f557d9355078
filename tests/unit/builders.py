"""Test data for the pure purchase rules: a purchase as loaded, and the events about it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from creditflow.domain.buyers import Buyer
from creditflow.domain.payments import PaymentEvent, PaymentSignal, RefundChanged
from creditflow.domain.purchase_record import Purchase
from creditflow.domain.statuses import PaymentState, PurchaseStatus

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def a_purchase(**fields: Any) -> Purchase:
    """A paid purchase of 100 credits for 1000 usd, credited to user_1, nothing refunded."""
    purchase = Purchase(
        id=7,
        checkout_session_id="cs_1",
        payment_intent_id="pi_1",
        payment_state=PaymentState.PAID,
        status=PurchaseStatus.PAID,
        user_id="user_1",
        email=None,
        amount=1000,
        currency="usd",
        credits=100,
        payment_link=None,
        amount_refunded=0,
        dispute_status=None,
        credits_refunded=0,
        credits_held=0,
        credits_written_off=0,
        livemode=False,
        created_at=NOW,
        updated_at=NOW,
        credited_at=NOW,
    )
    return replace(purchase, **fields)


def a_payment(**fields: Any) -> PaymentEvent:
    """`checkout.session.completed`, paid, for 100 credits, by user_1."""
    payment = PaymentEvent(
        event_id="evt_paid",
        checkout_session_id="cs_1",
        payment_intent_id="pi_1",
        signal=PaymentSignal.PAID,
        buyer=Buyer(user_id="user_1", email=None),
        amount=1000,
        currency="usd",
        payment_link=None,
        livemode=False,
        credits=100,
    )
    return replace(payment, **fields)


def a_refund(**fields: Any) -> RefundChanged:
    """`refund.created` for 400 of the purchase's 1000."""
    refund = RefundChanged(
        event_id="evt_refund",
        refund_id="re_1",
        payment_intent_id="pi_1",
        amount=400,
        counts=True,
        livemode=False,
        reported_at=NOW,
    )
    return replace(refund, **fields)
