"""Apply a subscription invoice event, or its Checkout Session, to the invoice's purchase: load,
let domain/invoice_purchase.py decide, store.

Runs inside the delivery's transaction, with the locks `apply_payment` takes in the same order
(the buyer's identity when no user matches yet, the purchase row, the wallet row in `post`). A
period is granted once: the purchase row is unique per invoice, and so is the ledger key
(`invoice:{id}:grant`), shared by a direct grant and a later pending-grant claim.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from creditflow.domain import invoice_purchase
from creditflow.domain.buyers import Buyer
from creditflow.domain.purchase import PaymentDecision
from creditflow.domain.purchase_record import Purchase
from creditflow.domain.statuses import DeliveryStatus
from creditflow.domain.subscriptions import (
    Invoice,
    InvoiceEvent,
    InvoiceSignal,
    SubscriptionCheckout,
    credits_expire_at,
)
from creditflow.services.purchases import find_recipient, store_credit
from creditflow.services.unit_of_work import UnitOfWork


def apply_invoice(
    uow: UnitOfWork, event: InvoiceEvent, now: datetime, grace: timedelta
) -> DeliveryStatus:
    """PROCESSED when the event changed the invoice's purchase, DUPLICATE when it did not."""
    invoice = event.invoice
    buyer = _invoice_buyer(uow, invoice)
    grant = None
    if event.signal is InvoiceSignal.PAID:
        recipient = find_recipient(uow, buyer) if buyer.is_known else None
        grant = invoice_purchase.plan_invoice_grant(event, buyer, recipient)
    expires = None if event.rollover else credits_expire_at(invoice, grace)
    first = invoice_purchase.first_invoice_purchase(event, grant, buyer, expires, now)
    created = uow.purchases.add_if_absent(first, now)
    loaded = created or uow.purchases.lock_invoice(invoice.invoice_id)
    assert loaded is not None  # the insert found the invoice's row
    stored_buyer = invoice_purchase.buyer_of(loaded, buyer)
    if event.signal is InvoiceSignal.PAID and stored_buyer != buyer:
        # Its session stored the user on the row (no identity lock is held on this purchase by
        # anyone else: nothing about it is parked yet).
        buyer = stored_buyer
        grant = invoice_purchase.plan_invoice_grant(event, buyer, find_recipient(uow, buyer))
    decision = invoice_purchase.on_invoice(
        loaded, event, grant, buyer, expires, now, created is not None
    )
    _store(uow, loaded, decision, now)
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
