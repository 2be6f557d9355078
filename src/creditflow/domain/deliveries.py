"""Stored webhook deliveries (the inbox) and the outcomes recorded on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from creditflow.domain.statuses import DeliveryStatus


@dataclass(frozen=True)
class StoredDelivery:
    id: str
    type: str
    livemode: bool
    payload: str
    status: DeliveryStatus
    error: str | None
    endpoint: str
    delivery_count: int
    received_at: datetime
    processed_at: datetime | None


@dataclass(frozen=True)
class Arriving:
    """A verified delivery on its way into the inbox (a batch's, stored with the others)."""

    event_id: str
    event_type: str
    livemode: bool
    payload: str
    endpoint: str


@dataclass(frozen=True)
class Arrival:
    """A delivery as the inbox took it: the event's first (`first`), or one more of a stored
    event, whose recorded status says whether it is settled."""

    first: bool
    status: DeliveryStatus
