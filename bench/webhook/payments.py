"""The users and the signed `checkout.session.completed` bodies the benchmark sends.

The body is built once by `creditflow.adapters.stripe.samples` (what `creditflow trigger` sends:
Stripe's example session, Stripe's event envelope) with placeholder tokens for the payment and the
user; each payment replaces them, which is ~15x cheaper than building a new body, and signs it
with the official SDK through `samples.signature_header`. Each payment names its user by id and by
that user's own e-mail: one shared e-mail would serialise payments on the buyer's identity lock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache

from creditflow.adapters.stripe import samples

WEBHOOK_SECRET = "whsec_bench_d2ViaG9vay1iZW5jaG1hcms"
CREDITS = 100
EVENT_TYPE = "checkout.session.completed"
# Lower case: e-mails are stored lower-cased, and the SQL capture looks for the tokens verbatim.
PAYMENT_TOKEN = "qqpaymentqq"
USER_TOKEN = "qquserqq"


def user_id(number: int | str) -> str:
    return f"bench-user-{number}"


def user_email(number: int | str) -> str:
    return f"bench-user-{number}@example.com"


@dataclass(frozen=True)
class Payment:
    """One new payment: its ids and the body Stripe would sign for it."""

    event_id: str
    session_id: str
    body: bytes


# The bodies a benchmark may send: "stripe" is Stripe's whole example session (~3 KB, every field
# Stripe sends); "compact" keeps only what a paid session's fulfilment reads (~0.7 KB), the shape
# of the load the earlier app's comparison scripts send (bench/peer compares with the same).
BODIES = ("stripe", "compact")
COMPACT_FIELDS = (
    *("id", "object", "mode", "status", "payment_status", "client_reference_id"),
    *("amount_total", "currency", "customer_details", "metadata", "payment_intent"),
    *("created", "livemode"),
)


@cache
def template(body: str = "stripe") -> bytes:
    """A paid session of user USER_TOKEN, its ids (event, session, PaymentIntent) PAYMENT_TOKEN."""
    session = samples.checkout_session(
        user_id=user_id(USER_TOKEN),
        email=user_email(USER_TOKEN),
        credits=CREDITS,
        session_id=f"cs_bench_{PAYMENT_TOKEN}",
        payment_intent_id=f"pi_bench_{PAYMENT_TOKEN}",
    )
    if body == "compact":
        session = {field: session[field] for field in COMPACT_FIELDS}
        session["customer_details"] = {"email": session["customer_details"]["email"]}
    elif body != "stripe":
        raise ValueError(f"no body {body!r}: one of {', '.join(BODIES)}")
    event = samples.event(EVENT_TYPE, session, event_id=f"evt_bench_{PAYMENT_TOKEN}")
    return samples.encode(event)


def new_payment(user: int | str, token: str | None = None, body_shape: str = "stripe") -> Payment:
    """A new paid payment of `user`, its ids made unique by `token` (random when not given)."""
    token = token or secrets.token_hex(12)
    body = template(body_shape).replace(PAYMENT_TOKEN.encode(), token.encode())
    body = body.replace(USER_TOKEN.encode(), str(user).encode())
    return Payment(event_id=f"evt_bench_{token}", session_id=f"cs_bench_{token}", body=body)


def signed(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    """The `Stripe-Signature` header for `body`, signed now (the server's tolerance is wide)."""
    return samples.signature_header(body, secret)
