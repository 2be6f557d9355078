"""Refunds and disputes: record the facts on the purchase, then settle its credits to match.

`settle` is called after every change to a purchase's facts and after its grant, inside the
caller's transaction with the purchase row locked. It posts only the difference between what the
facts say should be taken back and what already was, so repeated, late or out-of-order events
converge on the same ledger. A refund or dispute that arrives before the payment's own event is
kept on a placeholder purchase (`unmatched`) and applied when the payment is credited. A closed
dispute and a canceled or failed refund are final.
"""

from __future__ import annotations

from datetime import datetime

from creditflow.adapters.db.unit_of_work import UnitOfWork
from creditflow.domain.adjustments import (
    RefundPolicy,
    Targets,
    apply_policy,
    dispute_after,
    movements,
    refunded_after_cancel,
    refunded_after_charge_report,
    targets,
)
from creditflow.domain.keys import purchase_adjustment_key
from creditflow.domain.ledger import EntryKind, Posting
from creditflow.domain.payments import ChargeRefunded, DisputeChanged, MoneyBack, RefundChanged
from creditflow.domain.purchases import Purchase, display_status
from creditflow.domain.statuses import DeliveryStatus, DisputeStatus, PaymentState, RefundStatus


def apply_money_back(
    uow: UnitOfWork, event: MoneyBack, now: datetime, policy: RefundPolicy
) -> DeliveryStatus:
    purchase, _created = lock_purchase(
        uow,
        checkout_session_id=None,
        payment_intent_id=event.payment_intent_id,
        initial={
            "payment_state": PaymentState.UNMATCHED.value,
            "amount": event.amount if isinstance(event, ChargeRefunded) else None,
            "livemode": event.livemode,
        },
        now=now,
    )
    changes = _fact_changes(uow, purchase, event, now)
    if not changes:
        return DeliveryStatus.DUPLICATE
    settle(uow, uow.purchases.update(purchase.id, now, **changes), event.event_id, now, policy)
    return DeliveryStatus.PROCESSED


def _fact_changes(
    uow: UnitOfWork, purchase: Purchase, event: MoneyBack, now: datetime
) -> dict[str, object]:
    if isinstance(event, DisputeChanged):
        status = dispute_after(purchase.dispute_status, event.status)
        return {} if status is purchase.dispute_status else {"dispute_status": status.value}
    changes: dict[str, object] = {}
    refunded = _refunded(uow, purchase, event, now)
    if refunded != purchase.amount_refunded:
        changes["amount_refunded"] = refunded
    if isinstance(event, ChargeRefunded) and purchase.amount is None:
        changes["amount"] = event.amount
    return changes


def _refunded(
    uow: UnitOfWork, purchase: Purchase, event: ChargeRefunded | RefundChanged, now: datetime
) -> int:
    """The purchase's refunded amount with this report taken into account.

    Sources report running totals (the charge) or single refunds; the largest figure seen is the
    truth so far, so a late report never gives credits back. Only a refund that is canceled or
    fails lowers it, once: that state is final, whatever arrives after it. A charge's total
    leaves out the refunds canceled before it was reported, and may count those canceled since.
    """
    if isinstance(event, ChargeRefunded):
        canceled = uow.purchases.refunds_total(
            purchase.id, RefundStatus.CANCELED, canceled_from=event.reported_at
        )
        return refunded_after_charge_report(
            purchase.amount_refunded, event.amount_refunded, canceled
        )
    recorded = uow.purchases.refund_status(event.refund_id)
    if recorded is RefundStatus.CANCELED:
        return purchase.amount_refunded
    status = RefundStatus.COUNTED if event.counts else RefundStatus.CANCELED
    canceled_at = None if event.counts else event.reported_at
    uow.purchases.record_refund(
        event.refund_id, purchase.id, event.amount, status, now, canceled_at
    )
    counted = uow.purchases.refunds_total(purchase.id, RefundStatus.COUNTED)
    if event.counts:
        return max(purchase.amount_refunded, counted)
    return refunded_after_cancel(purchase.amount_refunded, event.amount, counted)


def lock_purchase(
    uow: UnitOfWork,
    *,
    checkout_session_id: str | None,
    payment_intent_id: str | None,
    initial: dict[str, object],
    now: datetime,
) -> tuple[Purchase, bool]:
    """The payment's purchase row, locked, and whether this event created it from `initial`."""
    state = PaymentState(str(initial["payment_state"]))
    created = uow.purchases.add_if_absent(
        {
            "checkout_session_id": checkout_session_id,
            "payment_intent_id": payment_intent_id,
            "status": display_status(state, None, 0, None).value,
            "amount_refunded": 0,
            "credits_refunded": 0,
            "credits_held": 0,
            "credits_written_off": 0,
            "created_at": now,
            "updated_at": now,
            **initial,
        }
    )
    if created is not None:
        return created, True
    return uow.purchases.lock(checkout_session_id, payment_intent_id), False


def settle(
    uow: UnitOfWork, purchase: Purchase, event_id: str, now: datetime, policy: RefundPolicy
) -> None:
    """Bring the purchase's credits and status in line with its facts, as they now stand in
    `purchase` (the caller's last write read back); writes only what differs. `event_id`: the
    event that changed the facts, which keys the movements it causes."""
    changes: dict[str, object] = {}
    if purchase.credits is not None and purchase.payment_state is PaymentState.PAID:
        old = Targets(purchase.credits_refunded, purchase.credits_held)
        new = targets(
            purchase.credits, purchase.amount, purchase.amount_refunded, purchase.dispute_status
        )
        if new != old:
            changes = _move_credits(uow, purchase, old, new, event_id, now, policy)
    status = display_status(
        purchase.payment_state, purchase.amount, purchase.amount_refunded, purchase.dispute_status
    )
    if changes or status is not purchase.status:
        uow.purchases.update(purchase.id, now, status=status.value, **changes)


def _move_credits(
    uow: UnitOfWork,
    purchase: Purchase,
    old: Targets,
    new: Targets,
    event_id: str,
    now: datetime,
    policy: RefundPolicy,
) -> dict[str, object]:
    assert purchase.credits is not None
    recorded: dict[str, object] = {"credits_refunded": new.refunded, "credits_held": new.held}
    if purchase.credited_at is None or purchase.user_id is None:
        # Still a pending grant: the buyer will claim only what is left.
        uow.pending.set_credits(purchase.id, purchase.credits - new.refunded - new.held)
        return recorded
    written_off = purchase.credits_written_off
    for kind, delta in movements(old, new):
        balance = uow.wallets.lock(purchase.user_id)
        take = apply_policy(delta, balance, written_off, policy)
        # Posted even when the policy leaves nothing to move: the ledger tells the story.
        uow.wallets.post(
            Posting(
                user_id=purchase.user_id,
                delta=take.post,
                kind=EntryKind(kind),
                reference=purchase.reference,
                key=purchase_adjustment_key(purchase.id, kind, event_id),
                reason=_reason(EntryKind(kind), purchase, delta=delta, posted=take.post),
                purchase_id=purchase.id,
                allow_debt=True,
            ),
            now,
        )
        written_off = take.written_off
    return {**recorded, "credits_written_off": written_off}


def _reason(kind: EntryKind, purchase: Purchase, *, delta: int, posted: int) -> str:
    """What happened to the purchase, and what was not moved when the policy stepped in."""
    moved, short = abs(posted), abs(delta - posted)
    money = f"{purchase.amount_refunded} of {purchase.amount} {purchase.currency or ''}".strip()
    if kind is EntryKind.REFUND:
        what, verb = f"refund of {money}: {moved} credits taken back", "taken back"
    elif kind is EntryKind.REFUND_REVERSAL:
        what = f"refund canceled or failed (now {money} refunded): {moved} credits given back"
        verb = "given back"
    elif kind is EntryKind.DISPUTE_HOLD and purchase.dispute_status is DisputeStatus.LOST:
        what, verb = f"dispute lost: {moved} credits taken back", "taken back"
    elif kind is EntryKind.DISPUTE_HOLD:
        what, verb = f"dispute open: {moved} credits held until it closes", "held"
    elif purchase.dispute_status is DisputeStatus.WON:
        what = f"dispute closed in the seller's favour: {moved} held credits returned"
        verb = "returned"
    else:
        what = f"{moved} held credits released: refunds take them back instead"
        verb = "released"
    if short == 0:
        return what
    if delta < 0:
        return f"{what}, {short} not {verb} (already spent; the clamp refund policy stops at zero)"
    return f"{what}, {short} not {verb}: they were never taken (the balance was clamped at zero)"
