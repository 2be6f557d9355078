"""The wallet's rules (domain/wallet.py `decide`): pure, on a wallet state built in the test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from creditflow.domain.kinds import EntryKind, LotSource
from creditflow.domain.wallet import (
    Conflicting,
    Decision,
    LedgerEntry,
    Lot,
    NewLot,
    Posted,
    Posting,
    Refill,
    Refusal,
    Refused,
    Replayed,
    WalletState,
    decide,
    lots_hold_the_balance,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SOON = NOW + timedelta(days=1)
LATER = NOW + timedelta(days=30)


def spend(credits: int, key: str = "spend:u:1", from_lot: int | None = None) -> Posting:
    return Posting("u", -credits, EntryKind.SPEND, "1", key, "a spend", from_lot=from_lot)


def grant(credits: int, key: str = "grant:u:1", expires_at: datetime | None = None) -> Posting:
    return Posting("u", credits, EntryKind.GRANT, "1", key, "a grant", expires_at=expires_at)


def purchase(credits: int, purchase_id: int = 7) -> Posting:
    """A purchase's grant, or (negative) a refund of it, which may take the wallet into debt."""
    kind = EntryKind.PURCHASE if credits > 0 else EntryKind.REFUND
    key = f"purchase:{purchase_id}:{kind.value}"
    return Posting(
        "u", credits, kind, "cs_1", key, "money", purchase_id=purchase_id, allow_debt=credits < 0
    )


def lot(
    lot_id: int,
    remaining: int,
    source: LotSource = LotSource.GRANT,
    expires_at: datetime | None = None,
    purchase_id: int | None = None,
) -> Lot:
    return Lot(lot_id, source, remaining, expires_at, purchase_id)


def wallet(balance: int, *lots: Lot, entries: dict[str, LedgerEntry] | None = None) -> WalletState:
    return WalletState("u", balance, lots, entries or {})


def posted(decision: Decision) -> Posted:
    assert isinstance(decision, Posted), decision
    return decision


def entry_for(posting: Posting, entry_id: int = 1) -> LedgerEntry:
    return LedgerEntry(
        entry_id, "u", posting.delta, 10, posting.kind.value, posting.reference, posting.reason,
        NOW, posting.expires_at,
    )  # fmt: skip


def test_a_spend_beyond_the_balance_is_refused_with_the_balance() -> None:
    assert decide(wallet(3, lot(1, 3)), spend(4), NOW) == Refused(3)


def test_a_spend_of_the_whole_balance_empties_the_wallet() -> None:
    result = posted(decide(wallet(3, lot(1, 3)), spend(3), NOW))

    assert (result.balance, result.entry.balance_after, result.takes) == (0, 0, ((1, 3),))


def test_a_posting_that_allows_debt_takes_the_balance_below_zero_and_empties_the_lots() -> None:
    result = posted(decide(wallet(3, lot(1, 3)), purchase(-5), NOW))

    assert (result.balance, result.takes) == (-2, ((1, 3),))
    assert lots_hold_the_balance(result.balance, result.state.lots)


def test_credits_added_to_a_wallet_in_debt_repay_the_debt_before_filling_a_lot() -> None:
    result = posted(decide(wallet(-2), grant(5), NOW))

    assert result.balance == 3
    assert result.lot == NewLot(LotSource.GRANT, 3, "1", None, None)


def test_credits_that_only_repay_debt_fill_no_lot() -> None:
    result = posted(decide(wallet(-5), grant(5), NOW))

    assert (result.balance, result.lot) == (0, None)


def test_a_spend_takes_the_lot_expiring_first_then_those_never_expiring_paid_last() -> None:
    lots = (
        lot(1, 2, LotSource.PURCHASE, purchase_id=7),
        lot(2, 2),
        lot(3, 2, expires_at=LATER),
        lot(4, 2, expires_at=SOON),
    )

    result = posted(decide(wallet(8, *lots), spend(7), NOW))

    assert result.takes == ((4, 2), (3, 2), (2, 2), (1, 1))


def test_a_preferred_lot_is_taken_first() -> None:
    lots = (lot(1, 2, expires_at=SOON), lot(2, 5, expires_at=LATER))

    result = posted(decide(wallet(7, *lots), spend(3, from_lot=2), NOW))

    assert result.takes == ((2, 3),)


def test_credits_taken_back_for_a_purchase_come_from_its_own_lot_first() -> None:
    lots = (lot(1, 2, expires_at=SOON), lot(2, 5, LotSource.PURCHASE, purchase_id=7))

    result = posted(decide(wallet(7, *lots), purchase(-3), NOW))

    assert result.takes == ((2, 3),)


def test_credits_given_back_to_a_purchase_refill_its_lot_even_when_empty() -> None:
    lots = (lot(1, 4), lot(2, 0, LotSource.PURCHASE, purchase_id=7))

    result = posted(decide(wallet(4, *lots), purchase(3), NOW))

    assert result.lot == Refill(2, 3)
    assert [(each.id, each.remaining) for each in result.state.lots] == [(1, 4), (2, 3)]


def test_a_grant_opens_a_lot_of_its_own_with_its_expiry() -> None:
    result = posted(decide(wallet(0), grant(5, expires_at=LATER), NOW))

    assert result.lot == NewLot(LotSource.GRANT, 5, "1", None, LATER)
    assert result.entry.expires_at == LATER


def test_a_key_already_posted_for_the_same_request_is_a_replay_whatever_the_balance() -> None:
    original = entry_for(spend(5))

    decision = decide(wallet(0, entries={"spend:u:1": original}), spend(5), NOW)

    assert decision == Replayed(original)


def test_a_key_already_posted_for_a_different_request_conflicts() -> None:
    original = entry_for(spend(5))

    decision = decide(wallet(10, lot(1, 10), entries={"spend:u:1": original}), spend(4), NOW)

    assert decision == Conflicting(original)


def test_a_grant_expiring_before_it_is_made_is_refused_unless_it_is_a_replay() -> None:
    late = grant(5, expires_at=NOW)

    assert decide(wallet(2), late, NOW) == Refused(2, Refusal.ALREADY_EXPIRED)
    original = entry_for(late)
    assert decide(wallet(2, entries={late.key: original}), late, NOW) == Replayed(original)


def test_the_state_after_a_posting_replays_its_key_and_holds_its_lot() -> None:
    first = posted(decide(wallet(0), grant(5), NOW))

    again = decide(first.state, grant(5), NOW)
    spent = posted(decide(first.state, spend(2), NOW))

    assert isinstance(again, Replayed)
    assert (spent.balance, spent.takes) == (3, ((first.state.lots[0].id, 2),))


# A posting of each kind the services make, on a wallet with a few purchases; debt is allowed
# only for money going back to the buyer's bank, as adjustments post it.
postings = st.one_of(
    st.builds(
        lambda credits, key, expires: grant(credits, f"grant:u:{key}", expires),
        st.integers(1, 50),
        st.integers(0, 20),
        st.sampled_from([None, SOON, LATER]),
    ),
    st.builds(
        lambda credits, n: spend(credits, f"spend:u:{n}"), st.integers(1, 60), st.integers(0, 20)
    ),
    st.builds(lambda credits, p: purchase(credits, p), st.integers(1, 50), st.integers(1, 3)),
    st.builds(
        lambda credits, p, n: Posting(
            "u", credits, EntryKind.REFUND, "cs", f"purchase:{p}:adjustment:{n}", "refund",
            purchase_id=p, allow_debt=True,
        ),
        st.integers(-60, 60),
        st.integers(1, 3),
        st.integers(0, 20),
    ),
)  # fmt: skip


@given(st.lists(postings, max_size=30))
def test_any_postings_keep_the_lots_holding_the_balance_and_no_debt_without_allowing_it(
    sequence: list[Posting],
) -> None:
    state = wallet(0)
    for posting in sequence:
        decision = decide(state, posting, NOW)
        if not isinstance(decision, Posted):
            continue
        if posting.delta < 0 and not posting.allow_debt:
            assert decision.balance >= 0
        assert decision.balance == state.balance + posting.delta
        assert all(each.remaining >= 0 for each in decision.state.lots)
        assert lots_hold_the_balance(decision.balance, decision.state.lots)
        state = decision.state
