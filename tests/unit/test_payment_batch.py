"""A batch's paid deliveries decided in arrival order on in-memory purchases
(domain/payment_batch.py): the pure rules behind services/batched_payments.py."""

from __future__ import annotations

from creditflow.domain.money_back import RefundPolicy
from creditflow.domain.payment_batch import BatchPayment, OwnPath, decide_all, sightings
from creditflow.domain.purchase import Grant
from creditflow.domain.statuses import DeliveryStatus, PaymentState, PurchaseStatus
from tests.unit.builders import NOW, a_payment, a_purchase


def paid(**fields: object) -> BatchPayment:
    return BatchPayment(a_payment(**fields), Grant(100, "user_1"))


def test_events_naming_one_payment_by_either_id_are_one_purchase_to_insert() -> None:
    batch = [
        paid(event_id="e1", checkout_session_id=None, payment_intent_id="pi_1"),
        paid(event_id="e2", checkout_session_id="cs_2", payment_intent_id="pi_2"),
        paid(event_id="e3", checkout_session_id="cs_1", payment_intent_id="pi_1"),
    ]

    seen = sightings(batch, NOW)

    assert [(n.checkout_session_id, n.payment_intent_id) for n in seen.new] == [
        (None, "pi_1"),
        ("cs_2", "pi_2"),
    ]
    assert seen.payment_of == (0, 1, 0)
    assert seen.named == ("cs_1", "cs_2", "pi_1", "pi_2")


def test_a_duplicate_in_the_batch_sees_the_purchase_its_original_credited() -> None:
    batch = [paid(event_id="e1"), paid(event_id="e2")]
    inserted = a_purchase(id=7, checkout_session_id="cs_1", payment_intent_id="pi_1")

    decided = decide_all(batch, sightings(batch, NOW), [inserted], [True], NOW, RefundPolicy.CLAMP)

    assert not isinstance(decided, OwnPath)
    assert [d.outcome for d in decided] == [DeliveryStatus.PROCESSED, DeliveryStatus.DUPLICATE]
    assert [d.posting is not None for d in decided] == [True, False]


def test_a_payment_of_an_unpaid_purchase_is_granted_and_its_status_settled() -> None:
    awaiting = a_purchase(
        id=3,
        payment_state=PaymentState.AWAITING_PAYMENT,
        status=PurchaseStatus.AWAITING_PAYMENT,
        credits=None,
        credited_at=None,
    )
    batch = [paid(event_id="e1")]

    decided = decide_all(batch, sightings(batch, NOW), [awaiting], [False], NOW, RefundPolicy.CLAMP)

    assert not isinstance(decided, OwnPath)
    [grant] = decided
    assert grant.posting is not None
    assert grant.posting.delta == 100
    written = grant.change.written()
    assert (written["payment_state"], written["status"]) == (PaymentState.PAID, PurchaseStatus.PAID)


def test_the_oldest_purchase_naming_the_payment_is_the_one_decided_on() -> None:
    batch = [paid(event_id="e1")]
    older = a_purchase(id=1, checkout_session_id="cs_1", payment_intent_id=None)
    newer = a_purchase(id=2, checkout_session_id=None, payment_intent_id="pi_1")

    decided = decide_all(
        batch, sightings(batch, NOW), [newer, older], [False], NOW, RefundPolicy.CLAMP
    )

    assert not isinstance(decided, OwnPath)
    assert decided[0].purchase_id == 1


def test_a_payment_whose_refunds_move_credits_takes_its_own_path() -> None:
    refunded_first = a_purchase(
        id=4,
        payment_state=PaymentState.UNMATCHED,
        status=PurchaseStatus.UNMATCHED,
        credits=None,
        credited_at=None,
        amount_refunded=1000,
    )
    batch = [paid(event_id="e1"), paid(event_id="e2", checkout_session_id="cs_9")]

    decided = decide_all(
        batch, sightings(batch, NOW), [refunded_first], [False], NOW, RefundPolicy.CLAMP
    )

    assert isinstance(decided, OwnPath)
    assert decided.index == 0
