"""Read a Stripe Invoice in both API shapes into the core's `Invoice`.

Since 2025-03-31 (basil) the subscription sits at `parent.subscription_details.subscription`,
its metadata at `parent.subscription_details.metadata`, and a line's price at
`lines.data[].pricing.price_details.price`; `charge`, `payment_intent` and `paid` are gone.
Before it: `subscription`, `subscription_details.metadata` and `lines.data[].price.id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from creditflow.adapters.stripe.fields import (
    MAX_EMAIL_LENGTH,
    UnreadableField,
    amount_of,
    flag_of,
    id_of,
    mapping_of,
    text_of,
    time_of,
)
from creditflow.domain.subscriptions import Invoice, InvoiceLine
from creditflow.errors import NeedsAttention


def read_invoice(obj: Mapping[str, Any]) -> Invoice:
    invoice_id = text_of(obj, "id")
    if obj.get("object") != "invoice" or invoice_id is None:
        raise NeedsAttention("the event does not carry an invoice")
    details = mapping_of(mapping_of(obj, "parent"), "subscription_details")
    legacy_details = mapping_of(obj, "subscription_details")
    metadata = mapping_of(details, "metadata") or mapping_of(legacy_details, "metadata")
    credits = metadata.get("credits")
    return Invoice(
        invoice_id=invoice_id,
        subscription_id=id_of(details, "subscription") or id_of(obj, "subscription"),
        customer_id=id_of(obj, "customer"),
        customer_email=text_of(obj, "customer_email", MAX_EMAIL_LENGTH),
        billing_reason=text_of(obj, "billing_reason"),
        status=text_of(obj, "status"),
        amount_paid=amount_of(obj, "amount_paid"),
        currency=text_of(obj, "currency", max_length=3),
        livemode=flag_of(obj, "livemode"),
        metadata_user_id=text_of(metadata, "user_id"),
        metadata_credits=None if credits is None else str(credits),
        lines=tuple(_line(line) for line in _lines(obj)),
        payment_intent_id=id_of(obj, "payment_intent"),
    )


def _lines(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    data = mapping_of(obj, "lines").get("data") or []
    if not isinstance(data, list) or not all(isinstance(line, Mapping) for line in data):
        raise UnreadableField("lines.data is not a list of line items")
    return data


def _signed_amount(line: Mapping[str, Any]) -> int | None:
    """A line's amount: negative for a plan change's credit for unused time."""
    value = line.get("amount")
    if value is None or type(value) is not int:
        return None
    return value


def _line(line: Mapping[str, Any]) -> InvoiceLine:
    pricing = mapping_of(mapping_of(line, "pricing"), "price_details")
    legacy_price = line.get("price")
    own = (
        mapping_of(legacy_price, "metadata").get("credits")
        if isinstance(legacy_price, Mapping)
        else None
    )
    quantity = line.get("quantity")
    if quantity is None:
        quantity = 1
    if type(quantity) is not int or quantity < 0:
        raise UnreadableField(f"line {line.get('id')}: quantity is not a whole number")
    return InvoiceLine(
        price_id=id_of(pricing, "price") or id_of(line, "price"),
        quantity=quantity,
        period_end=time_of(mapping_of(line, "period"), "end"),
        period_start=time_of(mapping_of(line, "period"), "start"),
        amount=_signed_amount(line),
        price_credits=None if own is None else str(own),
    )
