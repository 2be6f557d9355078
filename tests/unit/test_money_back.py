"""Money coming back (domain/money_back.py) and ledger postings: pure rules, no I/O."""

from __future__ import annotations

import itertools

import pytest

from creditflow.domain.kinds import ZERO_DELTA_KINDS, EntryKind
from creditflow.domain.money_back import (
    RefundPolicy,
    Take,
    Targets,
    apply_policy,
    dispute_after,
    movements,
    refunded_after_cancel,
    refunded_after_charge_report,
    targets,
)
from creditflow.domain.statuses import DisputeStatus
from creditflow.domain.wallet import Posting

CLOSED = [DisputeStatus.WON, DisputeStatus.LOST]


@pytest.mark.parametrize(("closed", "reported"), list(itertools.product(CLOSED, DisputeStatus)))
def test_a_closed_dispute_stays_closed_whatever_is_reported_after_it(
    closed: DisputeStatus, reported: DisputeStatus
) -> None:
    assert dispute_after(closed, reported) is closed


@pytest.mark.parametrize("current", [None, DisputeStatus.OPEN])
@pytest.mark.parametrize("reported", list(DisputeStatus))
def test_an_open_or_unknown_dispute_takes_the_reported_status(
    current: DisputeStatus | None, reported: DisputeStatus
) -> None:
    assert dispute_after(current, reported) is reported


def test_refunds_take_back_credits_in_proportion_rounded_down_and_never_more_than_granted() -> None:
    assert targets(100, 1000, 400, None) == Targets(refunded=40, held=0)
    assert targets(10, 1000, 150, None) == Targets(refunded=1, held=0)
    assert targets(100, 1000, 5000, None) == Targets(refunded=100, held=0)


@pytest.mark.parametrize(
    ("dispute", "held"), [(None, 0), (DisputeStatus.OPEN, 60), (DisputeStatus.LOST, 60)]
)
def test_an_open_or_lost_dispute_holds_what_the_refunds_left(
    dispute: DisputeStatus | None, held: int
) -> None:
    assert targets(100, 1000, 400, dispute) == Targets(refunded=40, held=held)
    assert targets(100, 1000, 400, DisputeStatus.WON).held == 0


def test_a_late_smaller_charge_report_takes_nothing_back() -> None:
    assert refunded_after_charge_report(current=700, charge_total=400, canceled=0) == 700


def test_a_charge_report_still_counting_a_canceled_refund_does_not_count_it() -> None:
    assert refunded_after_charge_report(current=300, charge_total=700, canceled=400) == 300


def test_a_canceled_refund_stops_counting_but_the_refunds_still_counted_do() -> None:
    assert refunded_after_cancel(current=700, refund=400, still_counted=300) == 300
    assert refunded_after_cancel(current=300, refund=400, still_counted=300) == 300
    assert refunded_after_cancel(current=400, refund=400, still_counted=0) == 0


def test_movements_name_what_moved_and_give_back_before_taking() -> None:
    assert movements(Targets(0, 0), Targets(40, 0)) == [("refund", -40)]
    assert movements(Targets(40, 0), Targets(0, 0)) == [("refund_reversal", 40)]
    assert movements(Targets(0, 100), Targets(100, 0)) == [
        ("dispute_return", 100),
        ("refund", -100),
    ]
    assert movements(Targets(40, 60), Targets(0, 100)) == [
        ("refund_reversal", 40),
        ("dispute_hold", -40),
    ]


def test_the_debt_policy_takes_everything_asked_whatever_the_balance() -> None:
    assert apply_policy(-100, 20, 0, RefundPolicy.DEBT) == Take(post=-100, written_off=0)


def test_the_clamp_policy_stops_at_zero_and_writes_off_the_rest() -> None:
    assert apply_policy(-100, 20, 0, RefundPolicy.CLAMP) == Take(post=-20, written_off=80)
    assert apply_policy(-100, 0, 0, RefundPolicy.CLAMP) == Take(post=0, written_off=100)


@pytest.mark.parametrize("policy", list(RefundPolicy))
def test_credits_given_back_first_cancel_what_was_never_taken(policy: RefundPolicy) -> None:
    assert apply_policy(100, 0, 80, policy) == Take(post=20, written_off=0)
    assert apply_policy(40, 0, 80, policy) == Take(post=0, written_off=40)


def posting(kind: EntryKind, delta: int) -> Posting:
    return Posting(user_id="u", delta=delta, kind=kind, reference="r", key="k", reason="why")


@pytest.mark.parametrize("kind", sorted(ZERO_DELTA_KINDS))
def test_refund_and_dispute_postings_may_move_nothing(kind: EntryKind) -> None:
    assert posting(kind, 0).delta == 0


@pytest.mark.parametrize("kind", sorted(set(EntryKind) - ZERO_DELTA_KINDS))
def test_every_other_posting_moves_credits(kind: EntryKind) -> None:
    with pytest.raises(ValueError, match="non-zero"):
        posting(kind, 0)


def test_a_posting_refuses_credits_that_are_not_whole_numbers() -> None:
    with pytest.raises(ValueError, match="whole number"):
        posting(EntryKind.SPEND, 1.5)  # type: ignore[arg-type]


def test_every_posting_says_why() -> None:
    with pytest.raises(ValueError, match="says why"):
        Posting(user_id="u", delta=1, kind=EntryKind.GRANT, reference="r", key="k", reason=" ")
