"""What a ledger entry and a credit lot can be: the enums the schema's CHECKs spell too."""

from __future__ import annotations

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


class LotSource(StrEnum):
    PURCHASE = "purchase"
    GRANT = "grant"


# Money coming back may move no credits at all (the clamp refund policy found them spent, or
# credits never taken are not given back); the entry is still written so the ledger tells the
# story. Every other kind moves credits. The schema's CHECK constraint lists the same kinds.
ZERO_DELTA_KINDS = frozenset(
    {EntryKind.REFUND, EntryKind.REFUND_REVERSAL, EntryKind.DISPUTE_HOLD, EntryKind.DISPUTE_RETURN}
)
