"""Refunds and disputes settled on a purchase (domain/money_back.py `money_back_facts`,
`settle`): which facts change, what is posted under which key, and when nothing is. Pure."""

from __future__ import annotations

from datetime import timedelta

from creditflow.domain.kinds import EntryKind
from creditflow.domain.money_back import (
    RecordedRefund,
    RefundPolicy,
    balance_needed,
    money_back_facts,
    settle,
)
from creditflow.domain.payments import ChargeRefunded, DisputeChanged
from creditflow.domain.purchase_record import PurchaseChange
from creditflow.domain.statuses import DisputeStatus, PurchaseStatus, RefundStatus
from tests.unit.builders import NOW, a_purchase, a_refund

DEBT, CLAMP = RefundPolicy.DEBT, RefundPolicy.CLAMP


def test_a_refund_takes_back_its_share_under_a_key_named_by_its_event() -> None:
    refunded = a_purchase(amount_refunded=400)

    settlement = settle(refunded, "evt_refund", DEBT)

    [posting] = settlement.postings
    assert (posting.kind, posting.delta, posting.key) == (
        EntryKind.REFUND,
        -40,
        "purchase:7:refund:evt_refund",
    )
    assert posting.allow_debt
    assert settlement.change.written() == {
        "status": PurchaseStatus.PARTIALLY_REFUNDED,
        "credits_refunded": 40,
        "credits_held": 0,
        "credits_written_off": 0,
    }


def test_a_purchase_whose_targets_are_recorded_posts_nothing_whatever_event_replays() -> None:
    """What keeps an old event's replay from posting again, whatever key its entry has."""
    settled = a_purchase(
        amount_refunded=400, credits_refunded=40, status=PurchaseStatus.PARTIALLY_REFUNDED
    )

    settlement = settle(settled, "evt_any", CLAMP, balance=0)

    assert settlement.postings == ()
    assert settlement.change.is_empty


def test_under_the_clamp_policy_a_refund_stops_at_the_balance_and_writes_off_the_rest() -> None:
    refunded = a_purchase(amount_refunded=400)

    settlement = settle(refunded, "evt_refund", CLAMP, balance=10)

    [posting] = settlement.postings
    assert posting.delta == -10
    assert "30 not taken back" in posting.reason
    assert settlement.change.credits_written_off == 30


def test_a_refund_replacing_a_hold_gives_back_first_so_the_clamp_sees_the_credits() -> None:
    held = a_purchase(credits_held=100, dispute_status=DisputeStatus.WON, amount_refunded=1000)

    settlement = settle(held, "evt_refund", CLAMP, balance=0)

    assert [(p.kind, p.delta) for p in settlement.postings] == [
        (EntryKind.DISPUTE_RETURN, 100),
        (EntryKind.REFUND, -100),
    ]


def test_a_refund_of_a_pending_grant_resizes_it_instead_of_posting() -> None:
    parked = a_purchase(user_id=None, credited_at=None, amount_refunded=400)

    settlement = settle(parked, "evt_refund", DEBT)

    assert (settlement.postings, settlement.pending_credits) == ((), 60)
    assert settlement.change.credits_refunded == 40


def test_only_the_clamp_policy_needs_the_balance_and_only_to_move_credits() -> None:
    refunded = a_purchase(amount_refunded=400)

    assert balance_needed(refunded, CLAMP) == "user_1"
    assert balance_needed(refunded, DEBT) is None
    assert balance_needed(a_purchase(), CLAMP) is None
    assert balance_needed(a_purchase(user_id=None, amount_refunded=400), CLAMP) is None


def test_a_refund_event_is_remembered_and_raises_the_amount_refunded() -> None:
    facts = money_back_facts(a_purchase(), a_refund(), [])

    assert facts.change == PurchaseChange(amount_refunded=400)
    assert facts.refund == RecordedRefund("re_1", 7, 400, RefundStatus.COUNTED)


def test_a_canceled_refund_stays_canceled_and_is_not_recorded_again() -> None:
    canceled = RecordedRefund("re_1", 7, 400, RefundStatus.CANCELED, NOW)

    facts = money_back_facts(a_purchase(), a_refund(), [canceled])

    assert (facts.change.is_empty, facts.refund) == (True, None)


def test_a_refund_failing_gives_back_only_its_own_amount() -> None:
    other = RecordedRefund("re_2", 7, 300, RefundStatus.COUNTED)
    mine = RecordedRefund("re_1", 7, 400, RefundStatus.COUNTED)
    purchase = a_purchase(amount_refunded=700)

    facts = money_back_facts(purchase, a_refund(counts=False), [other, mine])

    assert facts.change == PurchaseChange(amount_refunded=300)
    assert facts.refund == RecordedRefund("re_1", 7, 400, RefundStatus.CANCELED, NOW)


def test_a_charge_total_leaves_out_refunds_canceled_since_it_was_reported() -> None:
    canceled_after = RecordedRefund("re_1", 7, 400, RefundStatus.CANCELED, NOW)
    canceled_before = RecordedRefund("re_2", 7, 100, RefundStatus.CANCELED, NOW - timedelta(1))
    report = ChargeRefunded(
        event_id="evt_charge",
        payment_intent_id="pi_1",
        amount=1000,
        amount_refunded=500,
        currency="usd",
        livemode=False,
        reported_at=NOW,
    )

    facts = money_back_facts(a_purchase(), report, [canceled_after, canceled_before])

    assert facts.change == PurchaseChange(amount_refunded=100)


def test_a_closed_dispute_is_final() -> None:
    lost = a_purchase(dispute_status=DisputeStatus.LOST)
    reopened = DisputeChanged(
        event_id="evt_dispute",
        payment_intent_id="pi_1",
        dispute_id="dp_1",
        status=DisputeStatus.OPEN,
        amount=1000,
        livemode=False,
    )

    assert money_back_facts(lost, reopened, []).change.is_empty
