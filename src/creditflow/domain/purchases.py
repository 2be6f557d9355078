"""The life of a purchase, and when it earns its credits.

A purchase is one payment (today: one Checkout Session). Events about it can arrive in any order
and any number of times; `advance` is the single place that decides what each one changes.
Credits are granted on the step into `paid` and never again: `paid` is not left by any event here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class PurchaseStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"


class PaymentSignal(StrEnum):
    """What an incoming event says about the money."""

    PAID = "paid"
    AWAITING = "awaiting"
    FAILED = "failed"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Step:
    status: PurchaseStatus
    grants_credits: bool


_SIGNAL_TO_STATUS = {
    PaymentSignal.PAID: PurchaseStatus.PAID,
    PaymentSignal.AWAITING: PurchaseStatus.AWAITING_PAYMENT,
    PaymentSignal.FAILED: PurchaseStatus.FAILED,
    PaymentSignal.EXPIRED: PurchaseStatus.EXPIRED,
}


def advance(current: PurchaseStatus | None, signal: PaymentSignal) -> Step:
    """Next status for `signal`; money received wins over every earlier or later bad news."""
    if current is PurchaseStatus.PAID:
        return Step(PurchaseStatus.PAID, grants_credits=False)
    if signal is PaymentSignal.PAID:
        return Step(PurchaseStatus.PAID, grants_credits=True)
    if signal is PaymentSignal.AWAITING and current is not None:
        # A late `completed (unpaid)` must not undo a recorded failure or expiry.
        return Step(current, grants_credits=False)
    return Step(_SIGNAL_TO_STATUS[signal], grants_credits=False)


@dataclass(frozen=True)
class Purchase:
    id: int
    checkout_session_id: str | None
    payment_intent_id: str | None
    status: PurchaseStatus
    user_id: str | None
    email: str | None
    amount: int | None
    currency: str | None
    credits: int | None
    payment_link: str | None
    livemode: bool
    created_at: datetime
    updated_at: datetime
    credited_at: datetime | None
