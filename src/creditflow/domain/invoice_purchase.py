"""The purchase of a subscription invoice: what each invoice event and the subscription's
Checkout Session do to it, decided here (docs/design.md, load, decide, store).

One purchase row per invoice (its `invoice_id` is unique), and one ledger key per invoice
(domain/keys.py): `invoice.paid` and `invoice.payment_succeeded` of one invoice, and any
redelivery under a new event id, grant its period's credits once. A failed invoice is recorded
and grants nothing; a later paid event of the same invoice grants. An invoice naming no user
and no e-mail is stored paid and uncredited until its Checkout Session links the customer.

The session inserts the invoice's row (awaiting payment, naming its user) when it comes first, so
a session and an invoice processed at once queue up on that row, whichever inserts it: the later
one sees what the first stored, and the credits are granted by whichever event completes the
picture (the paid invoice, the user).
"""

from __future__ import annotations

from datetime import datetime

from creditflow.domain.buyers import Buyer
from creditflow.domain.purchase import Grant, PaymentDecision, credit
from creditflow.domain.purchase_record import (
    KEEP,
    NO_CHANGE,
    NewPurchase,
    Purchase,
    PurchaseChange,
    known,
)
from creditflow.domain.statuses import DeliveryStatus, PaymentState, PurchaseStatus
from creditflow.domain.subscriptions import (
    InvoiceEvent,
    InvoicePaymentPaid,
    InvoiceSignal,
    SubscriptionCheckout,
)
from creditflow.errors import NeedsAttention


def plan_invoice_grant(event: InvoiceEvent, buyer: Buyer, recipient: str | None) -> Grant | None:
    """The grant a paid invoice makes (`recipient`: the user found for `buyer`); None when it
    names nobody yet, or grants nothing (a downgrade). NeedsAttention when no rule gives its
    credits."""
    if event.credits is None:
        if event.credits_problem is None:
            return None  # a plan change that gives no more credits (`upgrade_credits`)
        raise NeedsAttention(event.credits_problem)
    return Grant(event.credits, recipient) if buyer.is_known else None


def first_invoice_purchase(
    event: InvoiceEvent,
    grant: Grant | None,
    buyer: Buyer,
    expires_at: datetime | None,
    now: datetime,
) -> NewPurchase:
    """The row an invoice event inserts when none names the invoice yet, as it ends up."""
    invoice = event.invoice
    paid = event.signal is InvoiceSignal.PAID
    return NewPurchase(
        checkout_session_id=None,
        payment_intent_id=invoice.payment_intent_id if paid else None,
        invoice_id=invoice.invoice_id,
        payment_state=PaymentState.PAID if paid else PaymentState.FAILED,
        livemode=invoice.livemode,
        user_id=buyer.user_id if grant is None else grant.user_id or buyer.user_id,
        email=buyer.email,
        amount=invoice.amount_paid if paid else None,
        currency=invoice.currency,
        credits=event.credits if paid else None,
        credited_at=None if grant is None or grant.user_id is None else now,
        credits_expire_at=expires_at,
        subscription_id=invoice.subscription_id,
    )


def checkout_purchase(event: SubscriptionCheckout, invoice_id: str) -> NewPurchase:
    """The row a subscription's Checkout Session inserts for its first invoice when that has not
    been seen yet: awaiting payment, naming the session's user."""
    return NewPurchase(
        checkout_session_id=None,
        payment_intent_id=None,
        invoice_id=invoice_id,
        payment_state=PaymentState.AWAITING_PAYMENT,
        livemode=event.livemode,
        user_id=event.buyer.user_id,
        email=event.buyer.email,
        subscription_id=event.subscription_id,
    )


def invoice_payment_purchase(event: InvoicePaymentPaid) -> NewPurchase:
    """The row `invoice_payment.paid` inserts when it comes before its invoice: awaiting
    payment, linking the invoice to its PaymentIntent for the refunds and disputes to come."""
    return NewPurchase(
        checkout_session_id=None,
        payment_intent_id=event.payment_intent_id,
        invoice_id=event.invoice_id,
        payment_state=PaymentState.AWAITING_PAYMENT,
        livemode=event.livemode,
    )


def link_payment_intent(
    purchase: Purchase, payment_intent_id: str, invoice_id: str, holder: Purchase | None
) -> PurchaseChange:
    """Link an invoice's purchase and the PaymentIntent that paid it (`purchase`: the invoice's,
    or the refund's placeholder holding the PaymentIntent; `holder`: another purchase holding
    it). A refund or dispute seen before the link, while the invoice's purchase exists, is on a
    purchase of its own: they are not merged, an operator is asked (NeedsAttention)."""
    if purchase.payment_intent_id is not None:
        if purchase.invoice_id is None:  # the refund's placeholder: it becomes the invoice's
            return PurchaseChange(invoice_id=invoice_id)
        return NO_CHANGE  # linked already (a payment's first PaymentIntent stays)
    if holder is not None and holder.id != purchase.id:
        raise NeedsAttention(
            f"a refund or dispute of {payment_intent_id} arrived before it was known to pay "
            f"invoice {invoice_id}, and is kept on purchase {holder.id}: settle it by hand"
        )
    return PurchaseChange(
        payment_intent_id=payment_intent_id,
        invoice_id=KEEP if purchase.invoice_id is not None else invoice_id,
    )


def check_same_invoice(holder: Purchase, invoice_id: str) -> None:
    """The purchase holding an invoice's PaymentIntent must be that invoice's, or a refund's
    placeholder naming no invoice: one PaymentIntent never pays two invoices' credits."""
    if holder.invoice_id is not None and holder.invoice_id != invoice_id:
        raise NeedsAttention(
            f"{holder.payment_intent_id} already paid invoice {holder.invoice_id}, so it cannot "
            f"pay invoice {invoice_id} too"
        )


def buyer_of(purchase: Purchase, buyer: Buyer) -> Buyer:
    """Who an invoice's credits go to: the invoice's own buyer, else the one its subscription's
    Checkout Session stored on the invoice's row."""
    if buyer.is_known or purchase.payment_state is PaymentState.PAID:
        return buyer
    return Buyer(user_id=purchase.user_id, email=purchase.email)


def on_invoice(
    purchase: Purchase,
    event: InvoiceEvent,
    grant: Grant | None,
    buyer: Buyer,
    expires_at: datetime | None,
    now: datetime,
    created: bool,
) -> PaymentDecision:
    """Apply an invoice event to its purchase, loaded and locked (`created`: this event
    inserted it from `first_invoice_purchase`); `expires_at`: when its credits expire."""
    if created:
        if grant is None:
            return PaymentDecision(NO_CHANGE, DeliveryStatus.PROCESSED)
        return _credit(NO_CHANGE, purchase, buyer, grant, now)
    if purchase.payment_state is PaymentState.PAID:
        return PaymentDecision(NO_CHANGE, DeliveryStatus.DUPLICATE)
    if event.signal is InvoiceSignal.FAILED:
        if purchase.payment_state is PaymentState.FAILED:
            return PaymentDecision(NO_CHANGE, DeliveryStatus.DUPLICATE)
        change = PurchaseChange(payment_state=PaymentState.FAILED, status=PurchaseStatus.FAILED)
        return PaymentDecision(change, DeliveryStatus.PROCESSED)
    first = first_invoice_purchase(event, grant, buyer, expires_at, now)
    change = PurchaseChange(
        payment_state=PaymentState.PAID,
        status=PurchaseStatus.PAID,
        credits=first.credits,
        user_id=first.user_id,
        email=first.email,
        amount=first.amount,
        currency=first.currency,
        credited_at=first.credited_at,
        credits_expire_at=expires_at,
        # A refund's placeholder found by the PaymentIntent becomes the invoice's purchase.
        invoice_id=KEEP if purchase.invoice_id is not None else event.invoice.invoice_id,
        payment_intent_id=(
            KEEP if purchase.payment_intent_id is not None else known(first.payment_intent_id)
        ),
    )
    if grant is None:
        return PaymentDecision(change, DeliveryStatus.PROCESSED)
    return _credit(change, change.applied_to(purchase), buyer, grant, now)


def on_checkout(
    purchase: Purchase, buyer: Buyer, recipient: str | None, now: datetime
) -> PaymentDecision | None:
    """The subscription's Checkout Session names the user of an invoice paid before it that
    named nobody: its credits go to them now. None when there is nothing to credit."""
    waiting = (
        purchase.payment_state is PaymentState.PAID
        and purchase.credits is not None
        and purchase.credited_at is None
        and purchase.user_id is None
        and purchase.email is None
    )
    if not waiting or not buyer.is_known or purchase.credits is None:
        return None
    grant = Grant(purchase.credits, recipient)
    change = PurchaseChange(
        user_id=recipient or buyer.user_id,
        email=buyer.email,
        credited_at=None if recipient is None else now,
    )
    return _credit(change, purchase, buyer, grant, now)


def _credit(
    change: PurchaseChange, purchase: Purchase, buyer: Buyer, grant: Grant, now: datetime
) -> PaymentDecision:
    expires = purchase.credits_expire_at
    if grant.user_id is not None and expires is not None and expires <= now:
        raise NeedsAttention(
            f"invoice {purchase.invoice_id}: its period's credits expired at "
            f"{expires.isoformat()}, before the payment was processed"
        )
    return credit(change, purchase, buyer, purchase.reference, grant)
