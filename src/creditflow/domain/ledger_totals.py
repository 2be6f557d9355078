"""What the ledger says was granted and spent, in total: the rules the metrics counters follow.

A grant is an entry that put credits into a wallet: a purchase (a pending grant once claimed, as
its claim writes the purchase entry) or a promotional grant. A spend is a spend entry. Retries
with the same idempotency key write no entry, so they are never counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from creditflow.domain.kinds import EntryKind


@dataclass(frozen=True)
class Tally:
    entries: int = 0
    credits: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.entries + other.entries, self.credits + other.credits)


@dataclass(frozen=True)
class EntryGroup:
    """Entries of one kind and sign: how many, and the sum of their deltas."""

    kind: str
    credits_in: bool  # delta > 0
    entries: int
    delta: int


@dataclass(frozen=True)
class SplitGroups:
    """The groups of entries created before the split, and of those created from it on."""

    before: list[EntryGroup]
    after: list[EntryGroup]


@dataclass(frozen=True)
class LedgerTotals:
    purchase_grants: Tally = Tally()
    promotional_grants: Tally = Tally()
    spends: Tally = Tally()  # credits taken, as a positive number

    def __add__(self, other: LedgerTotals) -> LedgerTotals:
        return LedgerTotals(
            self.purchase_grants + other.purchase_grants,
            self.promotional_grants + other.promotional_grants,
            self.spends + other.spends,
        )

    def grants_by_source(self) -> dict[str, Tally]:
        """As the metrics' `source` label names them."""
        return {"purchase": self.purchase_grants, "promotional": self.promotional_grants}


def totals_of(groups: Iterable[EntryGroup]) -> LedgerTotals:
    """Count the groups that are grants or spends; every other kind (expiry, refunds...) is not."""
    totals = LedgerTotals()
    for group in groups:
        tally = Tally(group.entries, group.delta)
        if group.kind == EntryKind.PURCHASE and group.credits_in:
            totals += LedgerTotals(purchase_grants=tally)
        elif group.kind == EntryKind.GRANT and group.credits_in:
            totals += LedgerTotals(promotional_grants=tally)
        elif group.kind == EntryKind.SPEND:
            totals += LedgerTotals(spends=Tally(group.entries, -group.delta))
    return totals
