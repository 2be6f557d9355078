"""Stripe objects for the fake API, each built from Stripe's own example (fixtures/stripe/).

Only the fields a test or creditflow reads are changed; the rest keep Stripe's shape and values.
"""

from __future__ import annotations

import copy
from typing import Any

from creditflow.adapters.stripe.samples import new_id
from tests.support import fixture

BUYER_EMAIL = "buyer@example.com"


def price(
    price_id: str, *, unit_amount: int, credits: str | None, interval: str | None = None
) -> dict[str, Any]:
    """A one-time price, or a recurring one billed every `interval`; `credits` becomes its
    metadata.credits (DESIGN's third rule)."""
    obj = copy.deepcopy(fixture("price.json"))
    recurring = None
    if interval is not None:
        recurring = {
            "interval": interval,
            "interval_count": 1,
            "usage_type": "licensed",
            "meter": None,
            "trial_period_days": None,
        }
    obj.update(
        id=price_id,
        type="one_time" if interval is None else "recurring",
        recurring=recurring,
        transform_quantity=None,
        unit_amount=unit_amount,
        unit_amount_decimal=str(unit_amount),
        metadata={} if credits is None else {"credits": credits},
    )
    return obj


def open_checkout_session(params: dict[str, Any], amount: int, currency: str) -> dict[str, Any]:
    """A session as `POST /v1/checkout/sessions` answers: open, unpaid, with its hosted URL.

    Since API version 2022-08-01 Stripe creates the PaymentIntent only when the buyer pays.
    """
    session = copy.deepcopy(fixture("checkout_session.json"))
    session_id = new_id("cs")
    session.update(
        id=session_id,
        url=f"https://checkout.stripe.com/c/pay/{session_id}",
        mode=params["mode"],
        success_url=params["success_url"],
        cancel_url=params.get("cancel_url"),
        client_reference_id=params.get("client_reference_id"),
        metadata=params.get("metadata", {}),
        customer_details=None,
        payment_intent=None,
        amount_subtotal=amount,
        amount_total=amount,
        currency=currency,
        shipping_cost=None,
        currency_conversion=None,
    )
    return session


def completed(session: dict[str, Any], *, paid: bool) -> None:
    """The buyer went through Checkout: paid, or with a delayed method whose money is to come."""
    details = copy.deepcopy(fixture("checkout_session.json")["customer_details"])
    details["email"] = BUYER_EMAIL
    session.update(
        status="complete",
        payment_status="paid" if paid else "unpaid",
        payment_intent=session["payment_intent"] or new_id("pi"),
        customer_details=details,
        url=None,
    )
    if not paid:
        session["payment_method_types"] = ["us_bank_account"]


def succeeded_payment_intent(session: dict[str, Any], metadata: dict[str, str]) -> dict[str, Any]:
    """The PaymentIntent Checkout made for a paid session, with `payment_intent_data.metadata`."""
    intent = copy.deepcopy(fixture("payment_intent.json"))
    intent.update(
        id=session["payment_intent"],
        amount=session["amount_total"],
        amount_received=session["amount_total"],
        currency=session["currency"],
        status="succeeded",
        canceled_at=None,
        latest_charge=new_id("ch"),
        metadata=dict(metadata),
    )
    return intent


def line_item(
    session_id: str, index: int, price_id: str, quantity: int, known: dict[str, Any] | None
) -> dict[str, Any]:
    """Stripe's example line item for `price_id`; a price the fake knows brings its metadata."""
    item = copy.deepcopy(fixture("checkout_session_line_item.json"))
    item["id"] = f"li_{session_id[-12:]}_{index}"
    item["price"]["id"] = price_id
    if known is not None:
        fields = ("metadata", "unit_amount", "unit_amount_decimal", "currency")
        item["price"].update({key: known[key] for key in fields})
    item["quantity"] = quantity
    for amount in ("amount_subtotal", "amount_total"):
        item[amount] = item["price"]["unit_amount"] * quantity
    return item


def webhook_endpoint(url: str, enabled_events: list[str], status: str) -> dict[str, Any]:
    """A webhook endpoint as `GET /v1/webhook_endpoints` lists it (Stripe's API reference shape;
    the signing secret is only ever returned on creation, so it is absent here too)."""
    return {
        "id": new_id("we"),
        "object": "webhook_endpoint",
        "api_version": None,
        "application": None,
        "created": 1719792000,
        "description": None,
        "enabled_events": enabled_events,
        "livemode": False,
        "metadata": {},
        "status": status,
        "url": url,
    }


def payment_link(link_id: str) -> dict[str, Any]:
    obj = copy.deepcopy(fixture("payment_link.json"))
    obj["id"] = link_id
    return obj
