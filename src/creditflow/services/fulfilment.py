"""Apply a payment event to its purchase, granting credits on the step into `paid`, once.

Runs inside the caller's unit of work (the delivery's transaction). Exactly-once rests on three
locks in this order: the purchase row (events about one payment queue up, whether they name its
Checkout Session or its PaymentIntent), the buyer's identity when no user matches yet (a payment
that may be parked and that user's registration queue up), then the wallet row inside `post`; and
on the ledger's unique grant key, shared by a direct grant and a later pending-grant claim.
"""

from __future__ import annotations

from datetime import datetime

from creditflow.adapters.db.unit_of_work import UnitOfWork
from creditflow.domain.adjustments import RefundPolicy
from creditflow.domain.buyers import Buyer
from creditflow.domain.deliveries import DeliveryStatus
from creditflow.domain.ledger import EntryKind, Posting, purchase_grant_key
from creditflow.domain.payments import PaymentEvent
from creditflow.domain.purchases import PaymentState, Purchase, advance
from creditflow.errors import NeedsAttention
from creditflow.services.adjustments import lock_purchase, settle


def identity_keys(user_id: str | None, email: str | None) -> list[str]:
    keys = [f"user:{user_id}"] if user_id else []
    return keys + ([f"email:{email}"] if email else [])


def apply_payment(
    uow: UnitOfWork, payment: PaymentEvent, now: datetime, policy: RefundPolicy
) -> DeliveryStatus:
    """PROCESSED when the event changed the purchase, DUPLICATE when it changed nothing."""
    purchase, created = lock_purchase(
        uow,
        checkout_session_id=payment.checkout_session_id,
        payment_intent_id=payment.payment_intent_id,
        initial={
            "payment_state": advance(None, payment.signal).state.value,
            "user_id": payment.buyer.user_id,
            "email_key": payment.buyer.email,
            "amount": payment.amount,
            "currency": payment.currency,
            "payment_link": payment.payment_link,
            "livemode": payment.livemode,
        },
        now=now,
    )
    current = None if created else purchase.payment_state
    step = advance(current, payment.signal)
    learned = _learned_ids(purchase, payment)
    if step.grants_credits:
        granted = _grant(uow, purchase, payment, payment.require_credits(), now)
        settle(uow, uow.purchases.update(purchase.id, now, **granted, **learned), now, policy)
        return DeliveryStatus.PROCESSED
    if current is step.state and not learned:
        return DeliveryStatus.DUPLICATE
    changed = uow.purchases.update(purchase.id, now, payment_state=step.state.value, **learned)
    settle(uow, changed, now, policy)
    return DeliveryStatus.PROCESSED


def _learned_ids(purchase: Purchase, payment: PaymentEvent) -> dict[str, object]:
    """The payment's other id, once an event names it (session first, PaymentIntent later)."""
    learned: dict[str, object] = {}
    if purchase.checkout_session_id is None and payment.checkout_session_id is not None:
        learned["checkout_session_id"] = payment.checkout_session_id
    if purchase.payment_intent_id is None and payment.payment_intent_id is not None:
        learned["payment_intent_id"] = payment.payment_intent_id
    return learned


def _grant(
    uow: UnitOfWork, purchase: Purchase, payment: PaymentEvent, credits: int, now: datetime
) -> dict[str, object]:
    """Credit the buyer's wallet, or park a pending grant; what the purchase must record."""
    buyer = payment.buyer
    if not buyer.is_known:
        raise NeedsAttention(
            "the payment names no user (client_reference_id, metadata.user_id) and no e-mail"
        )
    user_id = _find_user(uow, buyer)
    if user_id is None:
        # Only a payment that may be parked needs the identity lock: the buyer's registration,
        # racing it, then either sees the pending grant or is seen here as a user.
        uow.lock_identities(identity_keys(buyer.user_id, buyer.email))
        user_id = _find_user(uow, buyer)
    reference = payment.checkout_session_id or purchase.reference
    if user_id is None:
        uow.pending.add(
            purchase_id=purchase.id,
            user_id=buyer.user_id,
            email_key=buyer.email,
            credits=credits,
            now=now,
        )
    else:
        uow.wallets.post(
            Posting(
                user_id=user_id,
                delta=credits,
                kind=EntryKind.PURCHASE,
                reference=reference,
                key=purchase_grant_key(purchase.id),
                reason=f"purchase of {credits} credits ({reference})",
                purchase_id=purchase.id,
            ),
            now,
        )
    latest = {
        "amount": payment.amount,
        "currency": payment.currency,
        "payment_link": payment.payment_link,
    }
    return {
        "payment_state": PaymentState.PAID.value,
        "credits": credits,
        "user_id": user_id or buyer.user_id,
        "email_key": buyer.email,
        "credited_at": None if user_id is None else now,
        **{name: value for name, value in latest.items() if value is not None},
    }


def _find_user(uow: UnitOfWork, buyer: Buyer) -> str | None:
    """The app's user id wins: an e-mail is only used when the payment names no user id."""
    if buyer.user_id is not None:
        user = uow.users.get(buyer.user_id)
    else:
        assert buyer.email is not None
        user = uow.users.find_by_email(buyer.email)
    return None if user is None else user.id
