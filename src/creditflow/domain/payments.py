"""Events about money as the core sees them, whatever payment system they came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from creditflow.domain.buyers import Buyer
from creditflow.domain.credits import NoCreditsRule
from creditflow.domain.statuses import DisputeStatus
from creditflow.domain.subscriptions import (
    InvoiceEvent,
    InvoicePaymentPaid,
    SubscriptionChanged,
    SubscriptionCheckout,
)


class PaymentSignal(StrEnum):
    """What an incoming event says about the money."""

    PAID = "paid"
    AWAITING = "awaiting"
    FAILED = "failed"
    EXPIRED = "expired"


@dataclass(frozen=True)
class PaymentEvent:
    """News about one payment, named by its Checkout Session and/or PaymentIntent.

    `credits` is None when no rule gave a number (`credits_problem` says why); that only matters
    when the event would grant them. `event_id` is the provider's id of the event (Stripe's
    evt_...): the balance changes it causes are keyed by it (domain/keys.py).
    """

    event_id: str
    checkout_session_id: str | None
    payment_intent_id: str | None
    signal: PaymentSignal
    buyer: Buyer
    amount: int | None
    currency: str | None
    payment_link: str | None
    livemode: bool
    credits: int | None = None
    credits_problem: str | None = None

    def __post_init__(self) -> None:
        if self.checkout_session_id is None and self.payment_intent_id is None:
            raise ValueError("a payment event names a checkout session or a payment intent")

    def require_credits(self) -> int:
        if self.credits is None:
            raise NoCreditsRule(self.credits_problem or "no rule gives the number of credits")
        return self.credits


@dataclass(frozen=True)
class ChargeRefunded:
    """The charge's running total of refunds (Stripe's `charge.refunded`) as it stood at
    `reported_at` (None when the event did not say when)."""

    event_id: str
    payment_intent_id: str
    amount: int
    amount_refunded: int
    currency: str | None
    livemode: bool
    reported_at: datetime | None = None


@dataclass(frozen=True)
class RefundChanged:
    """One refund object (`refund.created` / `refund.updated`): its own amount and status."""

    event_id: str
    refund_id: str
    payment_intent_id: str
    amount: int
    counts: bool  # False once the refund failed or was canceled
    livemode: bool
    reported_at: datetime | None = None  # when the event was created


@dataclass(frozen=True)
class DisputeChanged:
    event_id: str
    payment_intent_id: str
    dispute_id: str
    status: DisputeStatus
    amount: int
    livemode: bool


@dataclass(frozen=True)
class IgnoredEvent:
    """An event stored and acknowledged, that creditflow does not act on."""

    reason: str


MoneyBack = ChargeRefunded | RefundChanged | DisputeChanged
Interpretation = (
    PaymentEvent
    | MoneyBack
    | InvoiceEvent
    | InvoicePaymentPaid
    | SubscriptionCheckout
    | SubscriptionChanged
    | IgnoredEvent
)
