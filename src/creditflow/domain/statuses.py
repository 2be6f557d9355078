"""Every status a purchase, a dispute, a refund or a stored delivery can be in, in one place.

The values are the strings stored in the database and shown by the API: renaming a member is
free, changing a value is a migration.
"""

from __future__ import annotations

from enum import StrEnum


class PaymentState(StrEnum):
    """Where the money of a purchase stands; `paid` is never left (docs/design.md)."""

    UNMATCHED = "unmatched"  # only known from a refund or dispute that arrived first
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"


class PurchaseStatus(StrEnum):
    """What the app sees: the payment state, refined by refunds and disputes once paid."""

    UNMATCHED = "unmatched"
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"


class DisputeStatus(StrEnum):
    """A closed dispute (won or lost) is final: Stripe never reopens one."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


class RefundStatus(StrEnum):
    """How a refund is remembered: still counted, or canceled/failed (final: Stripe returned
    the money and never revives the refund)."""

    COUNTED = "counted"
    CANCELED = "canceled"


class DeliveryStatus(StrEnum):
    """The outcome recorded on a stored webhook delivery."""

    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    NEEDS_ATTENTION = "needs_attention"
    FAILED = "failed"

    @property
    def is_settled(self) -> bool:
        """A redelivery of a settled event changes nothing; a failed one is processed again."""
        return self is not DeliveryStatus.FAILED
