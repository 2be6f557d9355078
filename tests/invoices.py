"""Subscription invoice events in both Stripe API shapes, built from the derived fixtures.

`shape="basil"` is the fixture as Stripe sends it since 2025-03-31 (subscription and its metadata
under `parent.subscription_details`, prices under `pricing.price_details`); `shape="legacy"`
moves them where earlier versions put them (`subscription`, `subscription_details.metadata`,
`lines.data[].price`) and adds the `charge`, `payment_intent` and `paid` fields they carried.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from tests.support import fixture

Shape = Literal["basil", "legacy"]
SHAPES: tuple[Shape, ...] = ("basil", "legacy")
INVOICE_ID = "in_1Pgc6tB7WZ01zgkWu9fdqL6I"
SUBSCRIPTION_ID = "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"
CUSTOMER_ID = "cus_QXg1o8vcGmoR32"
PRICE_ID = "price_1PgafmB7WZ01zgkW6dKueIc5"
PERIOD_END = 1721954054  # lines.data[0].period.end in the fixture


def invoice_event(
    shape: Shape,
    *,
    event_type: str = "invoice.paid",
    event_id: str | None = None,
    invoice_id: str = INVOICE_ID,
    metadata: dict[str, Any] | None = None,
    period_end: int = PERIOD_END,
    period_start: int | None = None,
    quantity: int = 1,
    billing_reason: str = "subscription_create",
    **invoice: Any,
) -> dict[str, Any]:
    """A subscription invoice event; `invoice` replaces top-level fields of the Invoice.
    `period_start`: its line's (the fixture's, in 2024, when None)."""
    event = copy.deepcopy(fixture("derived/invoice_paid_subscription_create.json"))
    event["type"] = event_type
    event["id"] = event_id or f"evt_{event_type.replace('.', '_')}_{invoice_id}_{shape}"
    obj = event["data"]["object"]
    obj["id"] = invoice_id
    obj["billing_reason"] = billing_reason
    obj["parent"]["subscription_details"]["metadata"] = metadata or {}
    line = obj["lines"]["data"][0]
    line["period"]["end"] = period_end
    if period_start is not None:
        line["period"]["start"] = period_start
    line["quantity"] = quantity
    if event_type == "invoice.payment_failed":
        obj.update(status="open", amount_paid=0, amount_remaining=obj["amount_due"])
    if shape == "legacy":
        _to_legacy(obj)
    obj.update(invoice)
    return event


def _to_legacy(obj: dict[str, Any]) -> None:
    details = obj.pop("parent")["subscription_details"]
    obj["subscription"] = details["subscription"]
    obj["subscription_details"] = {"metadata": details["metadata"]}
    obj["charge"] = "ch_1PgafuB7WZ01zgkWXYmPNZs8"
    # One PaymentIntent per invoice: the fixture's for its own invoice.
    invoice_id = obj["id"]
    obj["payment_intent"] = (
        "pi_1PgafyB7WZ01zgkWSjxsAJo3" if invoice_id == INVOICE_ID else f"pi_of_{invoice_id}"
    )
    obj["paid"] = obj["status"] == "paid"
    for line in obj["lines"]["data"]:
        price = line.pop("pricing")["price_details"]["price"]
        line.pop("parent")
        line["type"] = "subscription"
        line["price"] = {"id": price, "object": "price", "metadata": {}, "recurring": {}}


def subscription_checkout_event(
    *, event_id: str = "evt_subscription_checkout", **session: Any
) -> dict[str, Any]:
    """`checkout.session.completed` in `mode=subscription` (client_reference_id user_42)."""
    event = copy.deepcopy(fixture("derived/checkout_session_completed_subscription.json"))
    event["id"] = event_id
    event["data"]["object"].update(session)
    return event


def subscription_event(
    shape: Shape,
    event_type: str = "customer.subscription.updated",
    *,
    event_id: str | None = None,
    status: str = "active",
    period_start: int = PERIOD_END,
    period_end: int = PERIOD_END,
    ended_at: int | None = None,
    created: int = 1721954054,
    metadata: dict[str, Any] | None = None,
    **subscription: Any,
) -> dict[str, Any]:
    """A `customer.subscription.*` event of Stripe's example subscription (customer
    cus_QXg1o8vcGmoR32). Basil puts the current period on its items; earlier shapes on it."""
    event = copy.deepcopy(fixture("event.json"))
    obj = copy.deepcopy(fixture("subscription.json"))
    event.update(
        type=event_type, created=created, id=event_id or f"evt_{event_type}_{status}_{created}"
    )
    obj.update(
        status=status,
        metadata=metadata or {},
        ended_at=ended_at,
        canceled_at=ended_at,
        cancel_at=None,
        cancel_at_period_end=False,
    )
    for item in obj["items"]["data"]:
        item.update(current_period_start=period_start, current_period_end=period_end)
    if shape == "legacy":
        for item in obj["items"]["data"]:
            del item["current_period_start"], item["current_period_end"]
        obj.update(current_period_start=period_start, current_period_end=period_end)
    obj.update(subscription)
    event["data"] = {"object": obj}
    return event


def invoice_payment_event(invoice_id: str, payment_intent_id: str) -> dict[str, Any]:
    """`invoice_payment.paid` (since 2025-03-31): Stripe's example Invoice Payment, linking the
    invoice to the PaymentIntent that paid it."""
    event = copy.deepcopy(fixture("event.json"))
    event.update(type="invoice_payment.paid", id=f"evt_inpay_{invoice_id}_{payment_intent_id}")
    event["data"] = {
        "object": {
            "id": f"inpay_{invoice_id}",
            "object": "invoice_payment",
            "amount_paid": 2000,
            "amount_requested": 2000,
            "created": 1391288554,
            "currency": "usd",
            "invoice": invoice_id,
            "is_default": True,
            "livemode": False,
            "payment": {"type": "payment_intent", "payment_intent": payment_intent_id},
            "status": "paid",
            "status_transitions": {"canceled_at": None, "paid_at": 1391288554},
        }
    }
    return event


def paid_with(
    shape: Shape, payment_intent_id: str, invoice: dict[str, Any]
) -> list[dict[str, Any]]:
    """The events telling a paid `invoice` event's PaymentIntent: before 2025-03-31 the invoice
    names it; since, `invoice_payment.paid` does."""
    if shape == "legacy":
        invoice["data"]["object"]["payment_intent"] = payment_intent_id
        return [invoice]
    invoice_id = invoice["data"]["object"]["id"]
    return [invoice, invoice_payment_event(invoice_id, payment_intent_id)]
