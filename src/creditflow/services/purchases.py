"""Apply a payment, refund or dispute event to its purchase: load, let the domain decide, store.

Runs inside the caller's unit of work (the delivery's transaction); domain/purchase.py and
domain/money_back.py decide everything. Exactly-once rests on three locks, taken in the order a
registration takes them too: the buyer's identity when no user matches yet (a payment that may
be parked and that user's registration queue up), the purchase row (events about one payment
queue up, whether they name its Checkout Session or its PaymentIntent; a new purchase's insert
waits for a concurrent one of the same payment), then the wallet row inside `post`; and on the
ledger's unique keys: the grant's, shared by a direct grant and a later pending-grant claim, and
each refund or dispute movement's, named by the event that caused it (docs/design.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from creditflow.domain import money_back, purchase
from creditflow.domain.buyers import Buyer
from creditflow.domain.keys import identity_lock_keys
from creditflow.domain.money_back import RefundPolicy
from creditflow.domain.payments import MoneyBack, PaymentEvent, RefundChanged
from creditflow.domain.purchase_record import Purchase, PurchaseChange
from creditflow.domain.statuses import DeliveryStatus
from creditflow.domain.wallet import Posting, WalletState
from creditflow.services.posting import post
from creditflow.services.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class BuyerFound:
    """The user a payment's buyer names (None: nobody yet), looked up with the delivery."""

    user_id: str | None


def apply_payment(
    uow: UnitOfWork,
    payment: PaymentEvent,
    now: datetime,
    policy: RefundPolicy,
    found: BuyerFound | None = None,
) -> DeliveryStatus:
    """PROCESSED when the event changed the purchase, DUPLICATE when it changed nothing.

    A payment that would earn credits finds its recipient first, so a purchase seen for the
    first time is inserted as it ends up (paid, credited) and never updated in the same
    transaction: that update was the costliest statement of a fulfilment.
    """
    needed = purchase.needs_recipient(payment)
    recipient = find_recipient(uow, payment.buyer, found) if needed else None
    plan = purchase.plan_grant(payment, recipient)
    first = purchase.first_sighting(payment, plan, now)
    # The wallet a new purchase's grant goes to is loaded with its insert (None: parked).
    wallet_of = recipient if plan is not None else None
    loaded, created, wallet = uow.insert_or_lock_purchase(first, now, wallet_of)
    decision = purchase.on_payment(loaded, payment, plan, now, created)
    if decision.outcome is DeliveryStatus.DUPLICATE:
        return decision.outcome
    store_credit(uow, decision, now, wallet)
    settle(uow, loaded, decision.change, payment.event_id, now, policy)
    return decision.outcome


def store_credit(
    uow: UnitOfWork,
    decision: purchase.PaymentDecision,
    now: datetime,
    wallet: WalletState | None = None,
) -> None:
    """A decision's credits: parked as a pending grant, or posted to the wallet (`wallet`:
    loaded already, with the purchase's insert)."""
    if decision.parked is not None:
        parked = decision.parked
        uow.pending.add(
            purchase_id=parked.purchase_id,
            user_id=parked.user_id,
            email_key=parked.email,
            credits=parked.credits,
            now=now,
        )
    if decision.posting is not None:
        post(uow, decision.posting, now, _loaded_for(wallet, decision.posting))


def apply_money_back(
    uow: UnitOfWork, event: MoneyBack, now: datetime, policy: RefundPolicy
) -> DeliveryStatus:
    loaded, _created, _ = uow.insert_or_lock_purchase(purchase.placeholder(event), now, None)
    refund_id = event.refund_id if isinstance(event, RefundChanged) else None
    facts = money_back.money_back_facts(loaded, event, uow.purchases.refunds(loaded.id, refund_id))
    if facts.refund is not None:
        uow.purchases.record_refund(facts.refund, now)
    if facts.change.is_empty:
        return DeliveryStatus.DUPLICATE
    settle(uow, loaded, facts.change, event.event_id, now, policy)
    return DeliveryStatus.PROCESSED


def _loaded_for(wallet: WalletState | None, posting: Posting) -> WalletState | None:
    """The wallet loaded with a new purchase, if it is the posting's: the posting's key and
    lot are the new purchase's, which nothing can hold yet."""
    return wallet if wallet is not None and wallet.user_id == posting.user_id else None


def settle(
    uow: UnitOfWork,
    loaded: Purchase,
    change: PurchaseChange,
    event_id: str,
    now: datetime,
    policy: RefundPolicy,
) -> None:
    """Write the event's `change` with what settling the purchase's credits adds to it, after
    any grant the event made (so a clamped refund sees the credits it granted)."""
    after = change.applied_to(loaded)
    wallet = money_back.balance_needed(after, policy)
    balance = None if wallet is None else uow.wallets.load(wallet).balance
    settlement = money_back.settle(after, event_id, policy, balance)
    written = change.then(settlement.change)
    if not written.is_empty:
        uow.purchases.apply(loaded.id, written, now)
    if settlement.pending_credits is not None:
        uow.pending.set_credits(loaded.id, settlement.pending_credits)
    for posting in settlement.postings:
        post(uow, posting, now)


def find_recipient(uow: UnitOfWork, buyer: Buyer, found: BuyerFound | None = None) -> str | None:
    """The user a payment's credits go to, if registered (`found`: looked up already). Only a
    payment that may be parked needs the identity lock: the buyer's registration, racing it,
    then either sees the pending grant or is seen here as a user."""
    user_id = found.user_id if found is not None else _find_user(uow, buyer)
    if user_id is None:
        uow.lock_identities(identity_lock_keys(buyer.user_id, buyer.email))
        user_id = _find_user(uow, buyer)
    return user_id


def _find_user(uow: UnitOfWork, buyer: Buyer) -> str | None:
    """The app's user id wins: an e-mail is only used when the payment names no user id."""
    if buyer.user_id is not None:
        user = uow.users.get(buyer.user_id)
    else:
        assert buyer.email is not None
        user = uow.users.find_by_email(buyer.email)
    return None if user is None else user.id
