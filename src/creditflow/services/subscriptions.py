"""Apply a subscription invoice event, its Checkout Session, or a `customer.subscription.*`
event: load, let domain/invoice_purchase.py and domain/subscriptions.py decide, store.

Runs inside the delivery's transaction. The subscription's row is locked first (so an invoice
and the subscription's cancellation queue up: a period begun after it grants nothing), then the
locks `apply_payment` takes in the same order (the buyer's identity when no user matches yet,
the purchase row, the wallet row in `post`). A period is granted once: the purchase row is
unique per invoice, and so is the ledger key (`invoice:{id}:grant`), shared by a direct grant
and a later pending-grant claim.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from creditflow.domain import invoice_purchase, subscriptions
from creditflow.domain.buyers import Buyer
from creditflow.domain.money_back import RefundPolicy
from creditflow.domain.purchase import PaymentDecision
from creditflow.domain.purchase_record import Purchase
from creditflow.domain.statuses import DeliveryStatus
from creditflow.domain.subscriptions import (
    Invoice,
    InvoiceEvent,
    InvoicePaymentPaid,
    InvoiceSignal,
    Subscription,
    SubscriptionChanged,
    SubscriptionCheckout,
    credits_expire_at,
)
from creditflow.errors import NeedsAttention
from creditflow.services.purchases import find_recipient, settle, store_credit
from creditflow.services.unit_of_work import UnitOfWork


def apply_invoice(
    uow: UnitOfWork,
    event: InvoiceEvent,
    now: datetime,
    grace: timedelta,
    policy: RefundPolicy = RefundPolicy.DEBT,
) -> DeliveryStatus:
    """PROCESSED when the event changed the invoice's purchase, DUPLICATE when it did not.
    NeedsAttention for a paid invoice of a period begun after its subscription was canceled."""
    invoice = event.invoice
    assert invoice.subscription_id is not None  # the interpreter ignores other invoices
    sub = _lock_subscription(uow, invoice.subscription_id, invoice.livemode, now)
    refusal = subscriptions.refuses_invoice(sub, invoice)
    if refusal is not None and event.signal is InvoiceSignal.PAID:
        raise NeedsAttention(refusal)
    plan_event = event
    if invoice.billing_reason == subscriptions.UPDATE_REASON and event.credits is not None:
        # A plan change: the difference for the rest of the period, expiring with it.
        extra = subscriptions.upgrade_credits(sub, event.credits)
        event = replace(event, credits=extra or None)
    buyer = _invoice_buyer(uow, invoice)
    grant = None
    if event.signal is InvoiceSignal.PAID:
        recipient = find_recipient(uow, buyer) if buyer.is_known else None
        grant = invoice_purchase.plan_invoice_grant(event, buyer, recipient)
    expires = None if event.rollover else credits_expire_at(invoice, grace)
    first = invoice_purchase.first_invoice_purchase(event, grant, buyer, expires, now)
    created = uow.purchases.add_if_absent(first, now)
    loaded = created or _lock_invoice_purchase(uow, invoice.invoice_id, first.payment_intent_id)
    stored_buyer = invoice_purchase.buyer_of(loaded, buyer)
    if event.signal is InvoiceSignal.PAID and stored_buyer != buyer:
        # Its session stored the user on the row (no identity lock is held on this purchase by
        # anyone else: nothing about it is parked yet).
        buyer = stored_buyer
        grant = invoice_purchase.plan_invoice_grant(event, buyer, find_recipient(uow, buyer))
    decision = invoice_purchase.on_invoice(
        loaded, event, grant, buyer, expires, now, created is not None
    )
    store_credit(uow, decision, now)
    # Like a one-off payment's: a refund or dispute seen first (on the placeholder this
    # invoice's purchase now is) takes back its share of the credits just granted.
    settle(uow, loaded, decision.change, event.event_id, now, policy)
    user_id = buyer.user_id if grant is None else grant.user_id or buyer.user_id
    _save(uow, sub, subscriptions.after_invoice(sub, plan_event, user_id), now)
    return decision.outcome


def apply_subscription_checkout(
    uow: UnitOfWork, event: SubscriptionCheckout, now: datetime
) -> DeliveryStatus:
    """Link the customer to the session's user; credit the first invoice if it came first."""
    buyer = event.buyer
    linked = False
    if event.customer_id is not None and buyer.user_id is not None:
        linked = uow.customers.link(event.customer_id, buyer.user_id, now)
    changed = linked
    sub = None
    if event.subscription_id is not None:
        sub = _lock_subscription(uow, event.subscription_id, event.livemode, now)
        known = subscriptions.Subscription(
            event.subscription_id, customer_id=event.customer_id, user_id=buyer.user_id
        )
        changed = _save(uow, sub, subscriptions.linked(sub, known), now) or changed
    if event.invoice_id is not None and buyer.is_known:
        recipient = find_recipient(uow, buyer)
        placeholder = invoice_purchase.checkout_purchase(event, event.invoice_id)
        if uow.purchases.add_if_absent(placeholder, now) is not None:
            return DeliveryStatus.PROCESSED
        loaded = uow.purchases.lock_invoice(event.invoice_id)
        assert loaded is not None  # the insert found the invoice's row
        decision = invoice_purchase.on_checkout(loaded, buyer, recipient, now)
        if decision is not None:
            _store(uow, loaded, decision, now)
            changed = True
    return DeliveryStatus.PROCESSED if changed else DeliveryStatus.DUPLICATE


def apply_invoice_payment(
    uow: UnitOfWork, event: InvoicePaymentPaid, now: datetime
) -> DeliveryStatus:
    """Link the invoice's purchase to the PaymentIntent that paid it (the refunds and disputes
    of a subscription payment name only the PaymentIntent since 2025-03-31)."""
    if uow.purchases.add_if_absent(invoice_purchase.invoice_payment_purchase(event), now):
        return DeliveryStatus.PROCESSED
    loaded = _lock_invoice_purchase(uow, event.invoice_id, event.payment_intent_id)
    holder = None
    if loaded.payment_intent_id is None:
        holder = uow.purchases.find(None, event.payment_intent_id)
    change = invoice_purchase.link_payment_intent(
        loaded, event.payment_intent_id, event.invoice_id, holder
    )
    if change.is_empty:
        return DeliveryStatus.DUPLICATE
    uow.purchases.apply(loaded.id, change, now)
    return DeliveryStatus.PROCESSED


def _lock_invoice_purchase(
    uow: UnitOfWork, invoice_id: str, payment_intent_id: str | None
) -> Purchase:
    """The invoice's purchase, locked; else the one holding its PaymentIntent (a refund's
    placeholder, seen first): an insert of the invoice's row conflicted on one of them."""
    loaded = uow.purchases.lock_invoice(invoice_id)
    if loaded is None:
        assert payment_intent_id is not None  # the insert conflicted on it
        loaded = uow.purchases.lock(None, payment_intent_id)
        invoice_purchase.check_same_invoice(loaded, invoice_id)
    elif payment_intent_id is not None and loaded.payment_intent_id is None:
        holder = uow.purchases.find(None, payment_intent_id)
        invoice_purchase.link_payment_intent(loaded, payment_intent_id, invoice_id, holder)
    return loaded


def apply_subscription_change(
    uow: UnitOfWork, event: SubscriptionChanged, now: datetime
) -> DeliveryStatus:
    """Store what a `customer.subscription.*` event says (its status, period, cancellation)."""
    sub = _lock_subscription(uow, event.subscription_id, event.livemode, now)
    user_id = event.user_id
    if user_id is None and event.customer_id is not None:
        user_id = uow.customers.user_for(event.customer_id)
    changed = _save(uow, sub, subscriptions.after_change(sub, event, user_id), now)
    return DeliveryStatus.PROCESSED if changed else DeliveryStatus.DUPLICATE


def _lock_subscription(
    uow: UnitOfWork, subscription_id: str, livemode: bool, now: datetime
) -> Subscription:
    """The subscription's row, inserted (knowing nothing yet) or locked."""
    blank = Subscription(subscription_id, livemode=livemode)
    created = uow.subscriptions.add_if_absent(blank, now)
    locked = created or uow.subscriptions.lock(subscription_id)
    assert locked is not None  # the insert found its row
    return locked


def _save(uow: UnitOfWork, before: Subscription, after: Subscription, now: datetime) -> bool:
    if after == before:
        return False
    uow.subscriptions.save(after, now)
    return True


def _invoice_buyer(uow: UnitOfWork, invoice: Invoice) -> Buyer:
    """The subscription's metadata user, else the user linked to its customer; its e-mail."""
    user_id = invoice.metadata_user_id
    if user_id is None and invoice.customer_id is not None:
        user_id = uow.customers.user_for(invoice.customer_id)
    return Buyer(user_id=user_id, email=invoice.customer_email)


def _store(uow: UnitOfWork, loaded: Purchase, decision: PaymentDecision, now: datetime) -> None:
    store_credit(uow, decision, now)
    if not decision.change.is_empty:
        uow.purchases.apply(loaded.id, decision.change, now)
