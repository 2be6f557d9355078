"""The life of a purchase, and when it earns its credits.

A purchase is one payment: a Checkout Session and/or its PaymentIntent. Events about it arrive in
any order and any number of times; `advance` is the single place that decides what each one does
to the payment state. Credits are granted on the step into `paid`, and `paid` is never left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from creditflow.domain.payments import PaymentSignal
from creditflow.domain.statuses import DisputeStatus, PaymentState, PurchaseStatus


@dataclass(frozen=True)
class Step:
    state: PaymentState
    grants_credits: bool


_SIGNAL_TO_STATE = {
    PaymentSignal.PAID: PaymentState.PAID,
    PaymentSignal.AWAITING: PaymentState.AWAITING_PAYMENT,
    PaymentSignal.FAILED: PaymentState.FAILED,
    PaymentSignal.EXPIRED: PaymentState.EXPIRED,
}


def advance(current: PaymentState | None, signal: PaymentSignal) -> Step:
    """Next state for `signal`; money received wins over every earlier or later bad news."""
    if current is PaymentState.PAID:
        return Step(PaymentState.PAID, grants_credits=False)
    if signal is PaymentSignal.PAID:
        return Step(PaymentState.PAID, grants_credits=True)
    if signal is PaymentSignal.AWAITING and current not in (None, PaymentState.UNMATCHED):
        # A late `completed (unpaid)` must not undo a recorded failure or expiry.
        assert current is not None
        return Step(current, grants_credits=False)
    return Step(_SIGNAL_TO_STATE[signal], grants_credits=False)


def display_status(
    state: PaymentState, amount: int | None, amount_refunded: int, dispute: DisputeStatus | None
) -> PurchaseStatus:
    if state is not PaymentState.PAID:
        return PurchaseStatus(state.value)
    if dispute is not None:
        return {
            DisputeStatus.OPEN: PurchaseStatus.DISPUTED,
            DisputeStatus.WON: PurchaseStatus.DISPUTE_WON,
            DisputeStatus.LOST: PurchaseStatus.DISPUTE_LOST,
        }[dispute]
    if amount_refunded > 0:
        fully = amount is not None and amount_refunded >= amount
        return PurchaseStatus.REFUNDED if fully else PurchaseStatus.PARTIALLY_REFUNDED
    return PurchaseStatus.PAID


@dataclass(frozen=True)
class Purchase:
    id: int
    checkout_session_id: str | None
    payment_intent_id: str | None
    payment_state: PaymentState
    status: PurchaseStatus
    user_id: str | None
    email: str | None
    amount: int | None
    currency: str | None
    credits: int | None
    payment_link: str | None
    amount_refunded: int
    dispute_status: DisputeStatus | None
    credits_refunded: int
    credits_held: int
    credits_written_off: int
    livemode: bool
    created_at: datetime
    updated_at: datetime
    credited_at: datetime | None

    @property
    def reference(self) -> str:
        """How people and Stripe's Dashboard name this payment."""
        return self.checkout_session_id or self.payment_intent_id or f"purchase:{self.id}"
