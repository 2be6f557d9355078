"""PaymentIntents from the app's own payment form (flow 5).

A PaymentIntent that Checkout created is the same payment as its session; both name the same
PaymentIntent id, which is how the purchase row recognises it, whichever event comes first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from creditflow.adapters.stripe.fields import id_of, int_or_none, metadata_of
from creditflow.domain.buyers import Buyer
from creditflow.domain.credits import NoCreditsRule, parse_credits
from creditflow.domain.payments import IgnoredEvent, Interpretation, PaymentEvent
from creditflow.domain.purchases import PaymentSignal
from creditflow.errors import NeedsAttention

PAYMENT_INTENT_SIGNALS = {
    "payment_intent.succeeded": PaymentSignal.PAID,
    "payment_intent.payment_failed": PaymentSignal.FAILED,
}
CREDITFLOW_METADATA = ("user_id", "credits", "email")


def interpret_payment_intent(event_type: str, intent: Mapping[str, Any]) -> Interpretation:
    intent_id = id_of(intent)
    if intent.get("object") != "payment_intent" or intent_id is None:
        raise NeedsAttention(f"{event_type} does not carry a payment intent")
    metadata = metadata_of(intent)
    if not any(key in metadata for key in CREDITFLOW_METADATA):
        return IgnoredEvent(
            "the PaymentIntent carries no creditflow metadata (user_id, credits); "
            "a Checkout payment is credited through its session's events"
        )
    signal = PAYMENT_INTENT_SIGNALS[event_type]
    credits, problem = None, None
    if signal is PaymentSignal.PAID:
        try:
            credits = parse_credits(metadata["credits"]) if "credits" in metadata else None
        except NoCreditsRule as exc:
            problem = exc.message
        if credits is None and problem is None:
            problem = "the PaymentIntent has no metadata.credits (PaymentIntents carry no price)"
    received = int_or_none(intent.get("amount_received")) or int_or_none(intent.get("amount"))
    return PaymentEvent(
        checkout_session_id=None,
        payment_intent_id=intent_id,
        signal=signal,
        buyer=Buyer(
            user_id=metadata.get("user_id"),
            email=metadata.get("email") or intent.get("receipt_email"),
        ),
        amount=received,
        currency=intent.get("currency"),
        payment_link=None,
        livemode=bool(intent.get("livemode", False)),
        credits=credits,
        credits_problem=problem,
    )
