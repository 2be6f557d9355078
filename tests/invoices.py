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
    quantity: int = 1,
    billing_reason: str = "subscription_create",
    **invoice: Any,
) -> dict[str, Any]:
    """A subscription invoice event; `invoice` replaces top-level fields of the Invoice."""
    event = copy.deepcopy(fixture("derived/invoice_paid_subscription_create.json"))
    event["type"] = event_type
    event["id"] = event_id or f"evt_{event_type.replace('.', '_')}_{invoice_id}_{shape}"
    obj = event["data"]["object"]
    obj["id"] = invoice_id
    obj["billing_reason"] = billing_reason
    obj["parent"]["subscription_details"]["metadata"] = metadata or {}
    line = obj["lines"]["data"][0]
    line["period"]["end"] = period_end
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
    obj["payment_intent"] = "pi_1PgafyB7WZ01zgkWSjxsAJo3"
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
