"""What each payment event does to its purchase (domain/purchase.py): typed changes, the
credits' posting or parked grant, the delivery's outcome. Pure: no database."""

from __future__ import annotations

import pytest

from creditflow.domain.buyers import Buyer
from creditflow.domain.kinds import EntryKind
from creditflow.domain.payments import PaymentSignal
from creditflow.domain.pending import PendingGrant
from creditflow.domain.purchase import (
    Grant,
    NoGrant,
    ParkedGrant,
    claim,
    first_sighting,
    needs_recipient,
    on_payment,
    plan_grant,
)
from creditflow.domain.purchase_record import KEEP, NO_CHANGE, PurchaseChange
from creditflow.domain.statuses import DeliveryStatus, PaymentState, PurchaseStatus
from creditflow.errors import NeedsAttention
from tests.unit.builders import NOW, a_payment, a_purchase

PARKED_BUYER = Buyer(user_id=None, email="Buyer@Example.com")


def test_a_change_writes_only_what_it_sets_and_can_set_a_field_to_none() -> None:
    change = PurchaseChange(user_id=None, credits=5)

    assert change.written() == {"user_id": None, "credits": 5}
    assert change.email is KEEP
    assert NO_CHANGE.is_empty


def test_a_later_change_wins_where_both_write_and_applies_to_the_loaded_purchase() -> None:
    change = PurchaseChange(credits=5, amount=10).then(PurchaseChange(amount=20))

    after = change.applied_to(a_purchase())
    assert (after.credits, after.amount, after.currency) == (5, 20, "usd")


def test_only_a_payment_that_pays_and_can_be_priced_looks_for_its_recipient() -> None:
    assert needs_recipient(a_payment())
    assert not needs_recipient(a_payment(signal=PaymentSignal.AWAITING))
    assert not needs_recipient(a_payment(credits=None, credits_problem="no rule"))
    assert not needs_recipient(a_payment(buyer=Buyer(user_id=None, email=None)))


def test_a_plan_says_why_the_credits_or_their_recipient_are_unknown() -> None:
    assert plan_grant(a_payment(signal=PaymentSignal.FAILED), None) is None
    assert plan_grant(a_payment(), "user_1") == Grant(100, "user_1")
    assert plan_grant(a_payment(), None) == Grant(100, None)
    unpriced = a_payment(credits=None, credits_problem="no rule")
    assert plan_grant(unpriced, None) == NoGrant("no rule")
    unknown = plan_grant(a_payment(buyer=Buyer(user_id=None, email=None)), None)
    assert isinstance(unknown, NoGrant)
    assert "no e-mail" in unknown.problem


def test_a_paid_payment_seen_first_is_inserted_paid_and_credited() -> None:
    new = first_sighting(a_payment(), Grant(100, "user_1"), NOW)

    assert (new.payment_state, new.status, new.credits, new.credited_at) == (
        PaymentState.PAID,
        PurchaseStatus.PAID,
        100,
        NOW,
    )


def test_a_paid_payment_for_a_buyer_not_registered_is_inserted_uncredited() -> None:
    payment = a_payment(buyer=PARKED_BUYER)
    new = first_sighting(payment, Grant(100, None), NOW)

    assert (new.user_id, new.email, new.credits, new.credited_at) == (
        None,
        "buyer@example.com",
        100,
        None,
    )


def test_the_event_that_inserted_a_paid_purchase_posts_its_grant_under_the_purchase_key() -> None:
    decision = on_payment(a_purchase(), a_payment(), Grant(100, "user_1"), NOW, created=True)

    assert (decision.change, decision.outcome, decision.parked) == (
        NO_CHANGE,
        DeliveryStatus.PROCESSED,
        None,
    )
    assert decision.posting is not None
    assert (decision.posting.key, decision.posting.kind, decision.posting.delta) == (
        "purchase:7:grant",
        EntryKind.PURCHASE,
        100,
    )
    assert decision.posting.reason == "purchase of 100 credits (cs_1)"


def test_credits_for_a_buyer_not_registered_are_parked() -> None:
    purchase = a_purchase(user_id=None, credited_at=None)
    payment = a_payment(buyer=PARKED_BUYER)

    decision = on_payment(purchase, payment, Grant(100, None), NOW, created=True)

    assert decision.posting is None
    assert decision.parked == ParkedGrant(7, None, "buyer@example.com", 100)


def test_a_payment_that_must_grant_but_cannot_be_priced_needs_attention() -> None:
    with pytest.raises(NeedsAttention, match="no rule"):
        on_payment(a_purchase(), a_payment(), NoGrant("no rule"), NOW, created=True)


def test_a_later_event_about_a_paid_purchase_changes_nothing_even_without_a_price() -> None:
    payment = a_payment(credits=None, credits_problem="no rule")

    decision = on_payment(a_purchase(), payment, NoGrant("no rule"), NOW, created=False)

    assert (decision.outcome, decision.change, decision.posting) == (
        DeliveryStatus.DUPLICATE,
        NO_CHANGE,
        None,
    )


def test_the_step_into_paid_records_the_grant_and_the_payments_latest_figures() -> None:
    awaiting = a_purchase(
        payment_state=PaymentState.AWAITING_PAYMENT, credits=None, credited_at=None, amount=None
    )

    decision = on_payment(awaiting, a_payment(), Grant(100, "user_1"), NOW, created=False)

    assert decision.change.written() == {
        "payment_state": PaymentState.PAID,
        "credits": 100,
        "user_id": "user_1",
        "email": None,
        "credited_at": NOW,
        "amount": 1000,
        "currency": "usd",
    }
    assert decision.posting is not None
    assert decision.posting.delta == 100


def test_an_event_naming_the_payments_other_id_records_it() -> None:
    known_by_session = a_purchase(payment_intent_id=None)

    decision = on_payment(known_by_session, a_payment(), None, NOW, created=False)

    assert decision.outcome is DeliveryStatus.PROCESSED
    assert decision.change.written() == {
        "payment_state": PaymentState.PAID,
        "payment_intent_id": "pi_1",
    }


def test_a_failure_after_awaiting_payment_is_recorded_and_grants_nothing() -> None:
    awaiting = a_purchase(payment_state=PaymentState.AWAITING_PAYMENT, credits=None)

    decision = on_payment(awaiting, a_payment(signal=PaymentSignal.FAILED), None, NOW, False)

    assert decision.change.written() == {"payment_state": PaymentState.FAILED}
    assert (decision.posting, decision.parked) == (None, None)


def pending_grant(credits: int) -> PendingGrant:
    return PendingGrant(
        id=3,
        purchase_id=7,
        user_id=None,
        email="buyer@example.com",
        credits=credits,
        created_at=NOW,
        claimed_at=None,
        claimed_by=None,
    )


def test_a_claim_credits_the_purchase_to_the_user_under_the_grant_key() -> None:
    parked = a_purchase(user_id=None, credited_at=None)

    made = claim(pending_grant(60), parked, "user_2", NOW)

    assert made.change.written() == {"user_id": "user_2", "credited_at": NOW}
    assert made.posting is not None
    assert (made.posting.user_id, made.posting.delta, made.posting.key) == (
        "user_2",
        60,
        "purchase:7:grant",
    )
    assert made.posting.reason.endswith("claimed on registration")


def test_a_claim_of_a_grant_refunds_left_empty_posts_nothing() -> None:
    made = claim(pending_grant(0), a_purchase(user_id=None, credited_at=None), "user_2", NOW)

    assert made.posting is None
    assert made.change.written() == {"user_id": "user_2", "credited_at": NOW}
