"""What counts as a grant or a spend in the metrics (domain/ledger_totals.py): pure rules."""

from __future__ import annotations

from creditflow.domain.kinds import EntryKind
from creditflow.domain.ledger_totals import EntryGroup, LedgerTotals, Tally, totals_of


def group(kind: EntryKind, entries: int, delta: int) -> EntryGroup:
    return EntryGroup(kind.value, delta > 0, entries, delta)


def test_purchases_and_promotional_grants_that_added_credits_are_grants_by_source() -> None:
    totals = totals_of([group(EntryKind.PURCHASE, 3, 300), group(EntryKind.GRANT, 2, 15)])

    assert totals.grants_by_source() == {"purchase": Tally(3, 300), "promotional": Tally(2, 15)}
    assert totals.spends == Tally()


def test_spends_count_the_credits_they_took_as_a_positive_number() -> None:
    assert totals_of([group(EntryKind.SPEND, 4, -40)]).spends == Tally(4, 40)


def test_refunds_disputes_and_expiry_move_credits_but_are_neither_grants_nor_spends() -> None:
    others = [
        group(EntryKind.REFUND, 1, -10),
        group(EntryKind.REFUND_REVERSAL, 1, 10),
        group(EntryKind.DISPUTE_HOLD, 2, 0),
        group(EntryKind.DISPUTE_RETURN, 1, 5),
        group(EntryKind.EXPIRY, 3, -9),
    ]

    assert totals_of(others) == LedgerTotals()


def test_a_negative_purchase_or_grant_entry_is_not_a_grant() -> None:
    assert totals_of([group(EntryKind.PURCHASE, 1, -5), group(EntryKind.GRANT, 1, -2)]) == (
        LedgerTotals()
    )


def test_totals_add_up_field_by_field() -> None:
    older = totals_of([group(EntryKind.PURCHASE, 1, 100), group(EntryKind.SPEND, 1, -30)])
    newer = totals_of([group(EntryKind.GRANT, 1, 7), group(EntryKind.SPEND, 2, -4)])

    assert older + newer == LedgerTotals(
        purchase_grants=Tally(1, 100), promotional_grants=Tally(1, 7), spends=Tally(3, 34)
    )
