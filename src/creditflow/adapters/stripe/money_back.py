"""Refunds and disputes, found through the PaymentIntent of the purchase they concern."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from creditflow.adapters.stripe.fields import amount_of, flag_of, id_of, text_of
from creditflow.domain.payments import ChargeRefunded, DisputeChanged, MoneyBack, RefundChanged
from creditflow.domain.statuses import DisputeStatus
from creditflow.errors import NeedsAttention

REFUND_EVENTS = ("charge.refunded", "refund.created", "refund.updated", "refund.failed")
DISPUTE_EVENTS = ("charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed")
MONEY_BACK_EVENTS = REFUND_EVENTS + DISPUTE_EVENTS
# An inquiry closed without a chargeback (`warning_closed`) took no money: like a won dispute.
DISPUTE_OUTCOMES = {
    "won": DisputeStatus.WON,
    "warning_closed": DisputeStatus.WON,
    "lost": DisputeStatus.LOST,
}
UNCOUNTED_REFUND_STATUSES = ("failed", "canceled")


def interpret_money_back(
    event_id: str, event_type: str, obj: Mapping[str, Any], reported_at: datetime | None
) -> MoneyBack:
    """`reported_at`: when Stripe created the event, which tells a charge's running total made
    after a refund failed (it leaves that refund out) from one made before (it may count it)."""
    object_id = text_of(obj, "id")
    intent_id = id_of(obj, "payment_intent")
    if intent_id is None:
        raise NeedsAttention(
            f"{event_type} for {object_id} names no payment_intent, so no purchase can be "
            "found for it"
        )
    livemode = flag_of(obj, "livemode")
    amount = amount_of(obj, "amount") or 0
    if event_type == "charge.refunded":
        return ChargeRefunded(
            event_id=event_id,
            payment_intent_id=intent_id,
            amount=amount,
            amount_refunded=amount_of(obj, "amount_refunded") or 0,
            currency=text_of(obj, "currency", max_length=3),
            livemode=livemode,
            reported_at=reported_at,
        )
    if event_type in REFUND_EVENTS:
        return RefundChanged(
            event_id=event_id,
            refund_id=str(object_id),
            payment_intent_id=intent_id,
            amount=amount,
            counts=text_of(obj, "status") not in UNCOUNTED_REFUND_STATUSES,
            livemode=livemode,
            reported_at=reported_at,
        )
    return DisputeChanged(
        event_id=event_id,
        payment_intent_id=intent_id,
        dispute_id=str(object_id),
        status=DISPUTE_OUTCOMES.get(str(text_of(obj, "status")), DisputeStatus.OPEN),
        amount=amount,
        livemode=livemode,
    )
