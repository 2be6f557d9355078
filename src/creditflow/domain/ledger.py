"""Ledger postings: every balance change is one entry, identified by a key that makes it unique.

The key is what turns "at most once" into a database constraint: posting the same key twice is
refused by the unique index, whatever the race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EntryKind(StrEnum):
    PURCHASE = "purchase"
    REFUND = "refund"
    REFUND_REVERSAL = "refund_reversal"
    DISPUTE_HOLD = "dispute_hold"
    DISPUTE_RETURN = "dispute_return"
    SPEND = "spend"
    GRANT = "grant"
    EXPIRY = "expiry"


# Money coming back may move no credits at all (the clamp refund policy found them spent, or
# credits never taken are not given back); the entry is still written so the ledger tells the
# story. Every other kind moves credits. The schema's CHECK constraint lists the same kinds.
ZERO_DELTA_KINDS = frozenset(
    {EntryKind.REFUND, EntryKind.REFUND_REVERSAL, EntryKind.DISPUTE_HOLD, EntryKind.DISPUTE_RETURN}
)


@dataclass(frozen=True)
class Posting:
    """One balance change. Credits with a `purchase_id` go to (or come first from) that
    purchase's lot; other credits open a lot of their own, expiring at `expires_at`."""

    user_id: str
    delta: int
    kind: EntryKind
    reference: str
    key: str
    reason: str
    purchase_id: int | None = None
    expires_at: datetime | None = None
    from_lot: int | None = None
    allow_debt: bool = False

    def __post_init__(self) -> None:
        if type(self.delta) is not int:
            raise ValueError("a ledger posting moves a whole number of credits")
        if self.delta == 0 and self.kind not in ZERO_DELTA_KINDS:
            raise ValueError(f"a {self.kind.value} posting moves a non-zero number of credits")
        if not self.reason.strip():
            raise ValueError("every ledger posting says why")


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    user_id: str
    delta: int
    balance_after: int
    kind: str
    reference: str
    reason: str
    created_at: datetime
    expires_at: datetime | None = None  # a grant's: part of what its idempotency key stands for
