"""What an operator pages through in the console, and the notes their replays leave behind.

Plain records: the console's service asks for them by these filters and cursors, and the
database adapter answers with them, so neither knows how the other is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from creditflow.domain.statuses import DeliveryStatus


@dataclass(frozen=True)
class InboxFilter:
    status: DeliveryStatus | None = None
    type: str | None = None
    received_from: datetime | None = None  # inclusive
    received_before: datetime | None = None  # exclusive


@dataclass(frozen=True)
class InboxCursor:
    """Where the next page starts: strictly older than this delivery."""

    received_at: datetime
    event_id: str


@dataclass(frozen=True)
class HoldCursor:
    """Where the next page of holds starts: strictly older than this hold."""

    created_at: datetime
    hold_id: str


@dataclass(frozen=True)
class Refund:
    id: str
    purchase_id: int
    amount: int
    status: str
    updated_at: datetime


@dataclass(frozen=True)
class ReplayNote:
    operator: str
    reason: str
    outcome: DeliveryStatus
    error: str | None
    replayed_at: datetime
