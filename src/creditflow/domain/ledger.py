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


@dataclass(frozen=True)
class Posting:
    user_id: str
    delta: int
    kind: EntryKind
    reference: str
    key: str

    def __post_init__(self) -> None:
        if type(self.delta) is not int or self.delta == 0:
            raise ValueError("a ledger posting moves a non-zero whole number of credits")


def purchase_grant_key(purchase_id: int) -> str:
    """One key per purchase, shared by a direct grant and a later pending-grant claim."""
    return f"purchase:{purchase_id}:grant"


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    user_id: str
    delta: int
    balance_after: int
    kind: str
    reference: str
    created_at: datetime
