"""A wallet: its balance, the ledger entries that move it, and the lots its credits live in.

Every balance change is one ledger entry, identified by a key that makes it unique: posting the
same key twice is refused by the unique index, whatever the race (docs/design.md, the key
scheme). Credits live in lots; a spend consumes the lot that expires first and paid credits last.

Invariant (docs/design.md): the open lots' remaining credits add up to the balance when it is
positive, and to zero when the wallet is in debt (a refund took back credits already spent).
Credits added to a wallet in debt repay the debt before they fill a lot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from creditflow.domain.kinds import ZERO_DELTA_KINDS, EntryKind, LotSource


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


@dataclass(frozen=True)
class Lot:
    id: int
    source: LotSource
    remaining: int
    expires_at: datetime | None
    purchase_id: int | None


def _spend_order(lot: Lot) -> tuple[bool, datetime | None, bool, int]:
    expires = lot.expires_at
    return (expires is None, expires, lot.source is LotSource.PURCHASE, lot.id)


def plan_take(lots: Iterable[Lot], amount: int, prefer: int | None = None) -> list[tuple[int, int]]:
    """(lot id, credits) to take, `prefer`red lot first; less than `amount` if lots run out."""
    ordered: Sequence[Lot] = sorted(
        (lot for lot in lots if lot.remaining > 0),
        key=lambda lot: (lot.id != prefer, *_spend_order(lot)),
    )
    plan = []
    left = amount
    for lot in ordered:
        if left == 0:
            break
        take = min(left, lot.remaining)
        plan.append((lot.id, take))
        left -= take
    return plan


def credits_for_lots(delta: int, balance: int) -> int:
    """Of `delta` credits added to a wallet at `balance`, those left after repaying any debt."""
    return delta - min(delta, max(0, -balance))


def lots_hold_the_balance(balance: int, lots: Iterable[Lot]) -> bool:
    """The lots invariant (docs/design.md): open lots hold exactly the balance, none in debt."""
    return sum(lot.remaining for lot in lots) == max(balance, 0)
