"""Read `customer.subscription.*` events, in both API shapes, into `SubscriptionChanged`.

Since 2025-03-31 (basil) a subscription's current period sits on each of its items
(`items.data[].current_period_start` and `_end`); before it, on the subscription itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from creditflow.adapters.stripe.fields import (
    flag_of,
    id_of,
    mapping_of,
    metadata_of,
    text_of,
    time_of,
)
from creditflow.domain.subscriptions import SubscriptionChanged
from creditflow.errors import NeedsAttention

SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)


def read_subscription_change(
    event_id: str, event_type: str, obj: Mapping[str, Any], reported_at: datetime | None
) -> SubscriptionChanged:
    subscription_id = text_of(obj, "id")
    if obj.get("object") != "subscription" or subscription_id is None:
        raise NeedsAttention(f"{event_type} does not carry a subscription")
    start, end = _period(obj)
    status = text_of(obj, "status", max_length=32)
    ended_at = time_of(obj, "ended_at") or time_of(obj, "canceled_at")
    if event_type == "customer.subscription.deleted":
        # Sent once the subscription has ended: canceled, whatever the object's status says.
        status, ended_at = "canceled", ended_at or reported_at
    return SubscriptionChanged(
        event_id=event_id,
        subscription_id=subscription_id,
        customer_id=id_of(obj, "customer"),
        user_id=text_of(metadata_of(obj), "user_id"),
        status=status,
        reported_at=reported_at,
        period_start=start,
        period_end=end,
        ended_at=ended_at,
        livemode=flag_of(obj, "livemode"),
    )


def _period(obj: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """The current period: the subscription's own (before basil), else its items' latest."""
    end = time_of(obj, "current_period_end")
    if end is not None:
        return time_of(obj, "current_period_start"), end
    data = mapping_of(obj, "items").get("data") or []
    periods = [
        (time_of(item, "current_period_start"), time_of(item, "current_period_end"))
        for item in data
        if isinstance(item, Mapping)
    ]
    dated = [(s, e) for s, e in periods if e is not None]
    return max(dated, key=lambda period: period[1]) if dated else (None, None)
