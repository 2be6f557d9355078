"""Credits live in lots; a spend consumes the lot that expires first and paid credits last.

Invariant: the lots' remaining credits add up to the balance when it is positive, and to zero
when the wallet is in debt (a refund took back credits already spent). Credits added to a wallet
in debt repay the debt before they fill a lot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class LotSource(StrEnum):
    PURCHASE = "purchase"
    GRANT = "grant"


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
