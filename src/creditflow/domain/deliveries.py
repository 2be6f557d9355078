"""Stored webhook deliveries (the inbox) and the outcomes recorded on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class DeliveryStatus(StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    NEEDS_ATTENTION = "needs_attention"
    FAILED = "failed"

    @property
    def is_settled(self) -> bool:
        """A redelivery of a settled event changes nothing; a failed one is processed again."""
        return self is not DeliveryStatus.FAILED


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
