"""Apply a payment event to its purchase, granting credits on the step into `paid`, once.

Runs inside the caller's unit of work (the delivery's transaction). Exactly-once rests on three
locks in this order: the purchase row (events about one payment queue up), the buyer's identity
(payments and registrations of one user queue up), then the wallet row inside `post`; and on the
ledger's unique grant key, shared by a direct grant and a later pending-grant claim.
"""

from __future__ import annotations

from datetime import datetime

from creditflow.adapters.db.unit_of_work import UnitOfWork
from creditflow.domain.buyers import Buyer
from creditflow.domain.deliveries import DeliveryStatus
from creditflow.domain.ledger import EntryKind, Posting, purchase_grant_key
from creditflow.domain.payments import PaymentEvent
from creditflow.domain.purchases import PurchaseStatus, advance
from creditflow.errors import NeedsAttention


def identity_keys(user_id: str | None, email: str | None) -> list[str]:
    keys = [f"user:{user_id}"] if user_id else []
    return keys + ([f"email:{email}"] if email else [])


def apply_payment(uow: UnitOfWork, payment: PaymentEvent, now: datetime) -> DeliveryStatus:
    """PROCESSED when the event changed the purchase, DUPLICATE when it changed nothing."""
    purchase_id, current = _lock_purchase(uow, payment, now)
    step = advance(current, payment.signal)
    if not step.grants_credits:
        if current is step.status:
            return DeliveryStatus.DUPLICATE
        if current is not None:
            uow.purchases.update(purchase_id, now, status=step.status.value)
        return DeliveryStatus.PROCESSED
    _grant(uow, purchase_id, payment, payment.require_credits(), now)
    return DeliveryStatus.PROCESSED


def _lock_purchase(
    uow: UnitOfWork, payment: PaymentEvent, now: datetime
) -> tuple[int, PurchaseStatus | None]:
    """The purchase's id and status before this event (None: the event creates it)."""
    new_id = uow.purchases.add_if_absent(
        {
            "checkout_session_id": payment.checkout_session_id,
            "payment_intent_id": payment.payment_intent_id,
            "status": advance(None, payment.signal).status.value,
            "user_id": payment.buyer.user_id,
            "email_key": payment.buyer.email,
            "amount": payment.amount,
            "currency": payment.currency,
            "payment_link": payment.payment_link,
            "livemode": payment.livemode,
            "created_at": now,
            "updated_at": now,
        }
    )
    if new_id is not None:
        return new_id, None
    purchase = uow.purchases.lock_by_checkout_session(payment.checkout_session_id)
    if purchase is None:  # pragma: no cover - the insert just saw the row
        raise RuntimeError(f"purchase for {payment.checkout_session_id} vanished")
    return purchase.id, purchase.status


def _grant(
    uow: UnitOfWork, purchase_id: int, payment: PaymentEvent, credits: int, now: datetime
) -> None:
    buyer = payment.buyer
    if not buyer.is_known:
        raise NeedsAttention(
            "the payment names no user (client_reference_id, metadata.user_id) and no e-mail"
        )
    uow.lock_identities(identity_keys(buyer.user_id, buyer.email))
    user_id = _find_user(uow, buyer)
    if user_id is None:
        uow.pending.add(
            purchase_id=purchase_id,
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
                reference=payment.checkout_session_id,
                key=purchase_grant_key(purchase_id),
            ),
            now,
        )
    latest = {
        "payment_intent_id": payment.payment_intent_id,
        "amount": payment.amount,
        "currency": payment.currency,
    }
    uow.purchases.update(
        purchase_id,
        now,
        status=PurchaseStatus.PAID.value,
        credits=credits,
        user_id=user_id or buyer.user_id,
        email_key=buyer.email,
        credited_at=None if user_id is None else now,
        **{name: value for name, value in latest.items() if value is not None},
    )


def _find_user(uow: UnitOfWork, buyer: Buyer) -> str | None:
    """The app's user id wins: an e-mail is only used when the payment names no user id."""
    if buyer.user_id is not None:
        user = uow.users.get(buyer.user_id)
    else:
        assert buyer.email is not None
        user = uow.users.find_by_email(buyer.email)
    return None if user is None else user.id
