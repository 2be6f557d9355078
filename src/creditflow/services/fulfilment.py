"""Apply a payment event to its purchase, granting credits on the step into `paid`, once.

Runs inside the caller's unit of work (the delivery's transaction). Exactly-once rests on three
locks, taken in the order a registration takes them too: the buyer's identity when no user
matches yet (a payment that may be parked and that user's registration queue up), the purchase
row (events about one payment queue up, whether they name its Checkout Session or its
PaymentIntent; a new purchase's insert waits for a concurrent one of the same payment), then the
wallet row inside `post`; and on the ledger's unique grant key, shared by a direct grant and a
later pending-grant claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from creditflow.adapters.db.unit_of_work import UnitOfWork
from creditflow.domain.adjustments import RefundPolicy
from creditflow.domain.buyers import Buyer
from creditflow.domain.keys import identity_lock_keys, purchase_grant_key
from creditflow.domain.ledger import EntryKind, Posting
from creditflow.domain.payments import PaymentEvent
from creditflow.domain.purchases import Purchase, advance
from creditflow.domain.statuses import DeliveryStatus, PaymentState
from creditflow.errors import NeedsAttention
from creditflow.services.adjustments import lock_purchase, settle


def apply_payment(
    uow: UnitOfWork, payment: PaymentEvent, now: datetime, policy: RefundPolicy
) -> DeliveryStatus:
    """PROCESSED when the event changed the purchase, DUPLICATE when it changed nothing.

    A payment that would earn credits finds its recipient first, so a purchase seen for the
    first time is inserted as it ends up (paid, credited) and never updated in the same
    transaction: that update was the costliest statement of a fulfilment.
    """
    first_step = advance(None, payment.signal)  # what this event does to a payment seen first
    planned = _plan_grant(uow, payment) if first_step.grants_credits else None
    grant = planned if isinstance(planned, _Grant) else None
    purchase, created = lock_purchase(
        uow,
        checkout_session_id=payment.checkout_session_id,
        payment_intent_id=payment.payment_intent_id,
        initial={
            "payment_state": first_step.state.value,
            "user_id": payment.buyer.user_id,
            "email_key": payment.buyer.email,
            "amount": payment.amount,
            "currency": payment.currency,
            "payment_link": payment.payment_link,
            "livemode": payment.livemode,
            **({} if grant is None else grant.recorded(payment, now)),
        },
        now=now,
    )
    if created:
        if planned is not None:
            _credit(uow, purchase, payment, _required(planned), now)
        settle(uow, purchase, payment.event_id, now, policy)
        return DeliveryStatus.PROCESSED
    step = advance(purchase.payment_state, payment.signal)
    learned = _learned_ids(purchase, payment)
    if step.grants_credits:  # only on a paid signal, so `planned` was worked out above
        grant = _required(planned)
        _credit(uow, purchase, payment, grant, now)
        recorded = grant.recorded(payment, now)
        settle(
            uow,
            uow.purchases.update(purchase.id, now, **recorded, **learned),
            payment.event_id,
            now,
            policy,
        )
        return DeliveryStatus.PROCESSED
    if purchase.payment_state is step.state and not learned:
        return DeliveryStatus.DUPLICATE
    changed = uow.purchases.update(purchase.id, now, payment_state=step.state.value, **learned)
    settle(uow, changed, payment.event_id, now, policy)
    return DeliveryStatus.PROCESSED


@dataclass(frozen=True)
class _Grant:
    """Who gets a payment's credits: a user's wallet, or (`user_id` None) a pending grant."""

    credits: int
    user_id: str | None

    def recorded(self, payment: PaymentEvent, now: datetime) -> dict[str, object]:
        """What the purchase records once granted."""
        latest = {
            "amount": payment.amount,
            "currency": payment.currency,
            "payment_link": payment.payment_link,
        }
        return {
            "payment_state": PaymentState.PAID.value,
            "credits": self.credits,
            "user_id": self.user_id or payment.buyer.user_id,
            "email_key": payment.buyer.email,
            "credited_at": None if self.user_id is None else now,
            **{name: value for name, value in latest.items() if value is not None},
        }


def _learned_ids(purchase: Purchase, payment: PaymentEvent) -> dict[str, object]:
    """The payment's other id, once an event names it (session first, PaymentIntent later)."""
    learned: dict[str, object] = {}
    if purchase.checkout_session_id is None and payment.checkout_session_id is not None:
        learned["checkout_session_id"] = payment.checkout_session_id
    if purchase.payment_intent_id is None and payment.payment_intent_id is not None:
        learned["payment_intent_id"] = payment.payment_intent_id
    return learned


def _plan_grant(uow: UnitOfWork, payment: PaymentEvent) -> _Grant | NeedsAttention:
    """The credits and their recipient, or why they are unknown (which matters only if the
    purchase is not paid yet: a later event about a paid one may well lack both)."""
    try:
        credits = payment.require_credits()
    except NeedsAttention as exc:
        return exc
    buyer = payment.buyer
    if not buyer.is_known:
        return NeedsAttention(
            "the payment names no user (client_reference_id, metadata.user_id) and no e-mail"
        )
    user_id = _find_user(uow, buyer)
    if user_id is None:
        # Only a payment that may be parked needs the identity lock: the buyer's registration,
        # racing it, then either sees the pending grant or is seen here as a user.
        uow.lock_identities(identity_lock_keys(buyer.user_id, buyer.email))
        user_id = _find_user(uow, buyer)
    return _Grant(credits, user_id)


def _required(planned: _Grant | NeedsAttention | None) -> _Grant:
    """The grant this event must make; NeedsAttention now if it could not be worked out."""
    if isinstance(planned, _Grant):
        return planned
    raise planned if planned is not None else AssertionError("no grant planned")


def _credit(
    uow: UnitOfWork, purchase: Purchase, payment: PaymentEvent, grant: _Grant, now: datetime
) -> None:
    reference = payment.checkout_session_id or purchase.reference
    if grant.user_id is None:
        uow.pending.add(
            purchase_id=purchase.id,
            user_id=payment.buyer.user_id,
            email_key=payment.buyer.email,
            credits=grant.credits,
            now=now,
        )
        return
    uow.wallets.post(
        Posting(
            user_id=grant.user_id,
            delta=grant.credits,
            kind=EntryKind.PURCHASE,
            reference=reference,
            key=purchase_grant_key(purchase.id),
            reason=f"purchase of {grant.credits} credits ({reference})",
            purchase_id=purchase.id,
        ),
        now,
    )


def _find_user(uow: UnitOfWork, buyer: Buyer) -> str | None:
    """The app's user id wins: an e-mail is only used when the payment names no user id."""
    if buyer.user_id is not None:
        user = uow.users.get(buyer.user_id)
    else:
        assert buyer.email is not None
        user = uow.users.find_by_email(buyer.email)
    return None if user is None else user.id
