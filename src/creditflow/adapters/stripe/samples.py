"""Signed test deliveries shaped like Stripe's own (what `creditflow trigger` sends).

The session template is Stripe's example Checkout Session (stripe/openapi fixtures, MIT), as
Stripe sends it in a paid `checkout.session.completed`; each sample gets fresh ids.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from functools import cache
from importlib import resources
from typing import Any

import stripe

API_VERSION = "2026-06-24.dahlia"


@cache
def _session_template() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("checkout_session_template.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def checkout_session(
    *,
    user_id: str | None = None,
    email: str | None = "buyer@example.com",
    credits: int | str | None = 100,
    paid: bool = True,
    amount: int = 1000,
    currency: str = "usd",
    payment_link: str | None = None,
    session_id: str | None = None,
    payment_intent_id: str | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Checkout Session object; a Payment Link session carries no user id, only the e-mail."""
    session = copy.deepcopy(_session_template())
    session["id"] = session_id or new_id("cs")
    session["payment_intent"] = payment_intent_id or new_id("pi")
    session["client_reference_id"] = user_id
    session["customer_details"]["email"] = email
    session["payment_link"] = payment_link
    session["amount_subtotal"] = session["amount_total"] = amount
    session["currency"] = currency
    session["payment_status"] = "paid" if paid else "unpaid"
    if not paid:
        session["payment_method_types"] = ["us_bank_account"]
    session["metadata"] = dict(metadata or {})
    if credits is not None:
        session["metadata"]["credits"] = str(credits)
    return session


def event(
    event_type: str, data_object: dict[str, Any], *, event_id: str | None = None
) -> dict[str, Any]:
    """A complete webhook body around `data_object`, like Stripe's event envelope."""
    return {
        "id": event_id or new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": data_object},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def signature_header(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe would send, made by the official SDK."""
    return str(
        stripe.WebhookSignature.generate_signature_header(
            payload.decode(), secret, timestamp=timestamp
        )
    )
