"""PaymentIntents from the app's own payment form (flow 5).

A PaymentIntent that Checkout created is the same payment as its session; both name the same
PaymentIntent id, which is how the purchase row recognises it, whichever event comes first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from creditflow.adapters.stripe.fields import (
    MAX_EMAIL_LENGTH,
    amount_of,
    flag_of,
    metadata_of,
    text_of,
)
from creditflow.domain.buyers import Buyer
from creditflow.domain.credits import NoCreditsRule, parse_credits
from creditflow.domain.payments import IgnoredEvent, Interpretation, PaymentEvent, PaymentSignal
from creditflow.errors import NeedsAttention

PAYMENT_INTENT_SIGNALS = {
    "payment_intent.succeeded": PaymentSignal.PAID,
    "payment_intent.payment_failed": PaymentSignal.FAILED,
}
CREDITFLOW_METADATA = ("user_id", "credits", "email")


def interpret_payment_intent(
    event_id: str, event_type: str, intent: Mapping[str, Any]
) -> Interpretation:
    intent_id = text_of(intent, "id")
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
    received = amount_of(intent, "amount_received") or amount_of(intent, "amount")
    return PaymentEvent(
        event_id=event_id,
        checkout_session_id=None,
        payment_intent_id=intent_id,
        signal=signal,
        buyer=Buyer(
            user_id=text_of(metadata, "user_id"),
            email=text_of(metadata, "email", MAX_EMAIL_LENGTH)
            or text_of(intent, "receipt_email", MAX_EMAIL_LENGTH),
        ),
        amount=received,
        currency=text_of(intent, "currency", max_length=3),
        payment_link=None,
        livemode=flag_of(intent, "livemode"),
        credits=credits,
        credits_problem=problem,
    )
