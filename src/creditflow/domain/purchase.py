"""The life of a purchase: every transition it can make, decided here and nowhere else.

A purchase is one payment: a Checkout Session and/or its PaymentIntent. Events about it arrive in
any order and any number of times. The functions here take the purchase as loaded (locked by the
caller) and the event, and return what to store: a `PurchaseChange` of typed fields, the ledger
posting or parked grant of its credits, and the delivery's outcome. Credits are granted on the
step into `paid`, and `paid` is never left (docs/design.md). Refunds and disputes are settled by
domain/money_back.py on the purchase as this module leaves it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from creditflow.domain.buyers import Buyer
from creditflow.domain.keys import invoice_grant_key, purchase_grant_key
from creditflow.domain.kinds import EntryKind
from creditflow.domain.payments import ChargeRefunded, MoneyBack, PaymentEvent, PaymentSignal
from creditflow.domain.pending import PendingGrant
from creditflow.domain.purchase_record import (
    NO_CHANGE,
    NewPurchase,
    Purchase,
    PurchaseChange,
    known,
)
from creditflow.domain.statuses import DeliveryStatus, DisputeStatus, PaymentState, PurchaseStatus
from creditflow.domain.wallet import Posting
from creditflow.errors import NeedsAttention


@dataclass(frozen=True)
class Step:
    state: PaymentState
    grants_credits: bool


_SIGNAL_TO_STATE = {
    PaymentSignal.PAID: PaymentState.PAID,
    PaymentSignal.AWAITING: PaymentState.AWAITING_PAYMENT,
    PaymentSignal.FAILED: PaymentState.FAILED,
    PaymentSignal.EXPIRED: PaymentState.EXPIRED,
}


def advance(current: PaymentState | None, signal: PaymentSignal) -> Step:
    """Next state for `signal`; money received wins over every earlier or later bad news."""
    if current is PaymentState.PAID:
        return Step(PaymentState.PAID, grants_credits=False)
    if signal is PaymentSignal.PAID:
        return Step(PaymentState.PAID, grants_credits=True)
    if signal is PaymentSignal.AWAITING and current not in (None, PaymentState.UNMATCHED):
        # A late `completed (unpaid)` must not undo a recorded failure or expiry.
        assert current is not None
        return Step(current, grants_credits=False)
    return Step(_SIGNAL_TO_STATE[signal], grants_credits=False)


def display_status(
    state: PaymentState, amount: int | None, amount_refunded: int, dispute: DisputeStatus | None
) -> PurchaseStatus:
    if state is not PaymentState.PAID:
        return PurchaseStatus(state.value)
    if dispute is not None:
        return {
            DisputeStatus.OPEN: PurchaseStatus.DISPUTED,
            DisputeStatus.WON: PurchaseStatus.DISPUTE_WON,
            DisputeStatus.LOST: PurchaseStatus.DISPUTE_LOST,
        }[dispute]
    if amount_refunded > 0:
        fully = amount is not None and amount_refunded >= amount
        return PurchaseStatus.REFUNDED if fully else PurchaseStatus.PARTIALLY_REFUNDED
    return PurchaseStatus.PAID


@dataclass(frozen=True)
class Grant:
    """Who gets a payment's credits: a user's wallet, or (`user_id` None) a pending grant."""

    credits: int
    user_id: str | None


@dataclass(frozen=True)
class NoGrant:
    """Why a payment's credits or their recipient are unknown. That matters only if the purchase
    is not paid yet: a later event about a paid one may well lack both."""

    problem: str


GrantPlan = Grant | NoGrant


def needs_recipient(payment: PaymentEvent) -> bool:
    """Whether to look up the user a payment's credits would go to, before locking its purchase
    (a payment that may be parked takes the buyer's identity locks first, as registration does)."""
    grants = advance(None, payment.signal).grants_credits
    return grants and payment.credits is not None and payment.buyer.is_known


def plan_grant(payment: PaymentEvent, recipient: str | None) -> GrantPlan | None:
    """What a paid event would grant (`recipient`: the user found for its buyer); None when
    the event pays nothing."""
    if not advance(None, payment.signal).grants_credits:
        return None
    if payment.credits is None:
        return NoGrant(payment.credits_problem or "no rule gives the number of credits")
    if not payment.buyer.is_known:
        return NoGrant(
            "the payment names no user (client_reference_id, metadata.user_id) and no e-mail"
        )
    return Grant(payment.credits, recipient)


def first_sighting(payment: PaymentEvent, plan: GrantPlan | None, now: datetime) -> NewPurchase:
    """The purchase a payment inserts when none names it yet: paid and credited already when
    the grant is known, so it is never updated in the same transaction."""
    buyer = payment.buyer
    grant = plan if isinstance(plan, Grant) else None
    return NewPurchase(
        checkout_session_id=payment.checkout_session_id,
        payment_intent_id=payment.payment_intent_id,
        payment_state=advance(None, payment.signal).state,
        livemode=payment.livemode,
        user_id=buyer.user_id if grant is None else grant.user_id or buyer.user_id,
        email=buyer.email,
        amount=payment.amount,
        currency=payment.currency,
        payment_link=payment.payment_link,
        credits=None if grant is None else grant.credits,
        credited_at=None if grant is None or grant.user_id is None else now,
    )


def placeholder(event: MoneyBack) -> NewPurchase:
    """A refund or dispute seen before its payment: kept on an `unmatched` purchase until the
    payment's own event arrives."""
    return NewPurchase(
        checkout_session_id=None,
        payment_intent_id=event.payment_intent_id,
        payment_state=PaymentState.UNMATCHED,
        livemode=event.livemode,
        amount=event.amount if isinstance(event, ChargeRefunded) else None,
    )


@dataclass(frozen=True)
class ParkedGrant:
    """Credits paid for by a buyer not registered yet, waiting for them."""

    purchase_id: int
    user_id: str | None
    email: str | None
    credits: int


@dataclass(frozen=True)
class PaymentDecision:
    """What one payment event does: the purchase's new facts, its credits (a posting or a
    parked grant), and the delivery's outcome."""

    change: PurchaseChange
    outcome: DeliveryStatus
    posting: Posting | None = None
    parked: ParkedGrant | None = None


def on_payment(
    purchase: Purchase, payment: PaymentEvent, plan: GrantPlan | None, now: datetime, created: bool
) -> PaymentDecision:
    """Apply `payment` to its purchase, loaded and locked; `created` when this event inserted
    it from `first_sighting` (so it already stands as the event leaves it, but for its credits).

    Raises NeedsAttention when the event would grant credits and `plan` could not say what.
    """
    if created:
        if plan is None:
            return PaymentDecision(NO_CHANGE, DeliveryStatus.PROCESSED)
        return credit(
            NO_CHANGE, purchase, payment.buyer, _reference(purchase, payment), _required(plan)
        )
    step = advance(purchase.payment_state, payment.signal)
    learned = _learned_ids(purchase, payment)
    if step.grants_credits:  # only on a paid signal, so a plan was made
        grant = _required(plan)
        change = _granted(grant, payment, now).then(learned)
        return credit(change, purchase, payment.buyer, _reference(purchase, payment), grant)
    if purchase.payment_state is step.state and learned.is_empty:
        return PaymentDecision(NO_CHANGE, DeliveryStatus.DUPLICATE)
    return PaymentDecision(
        PurchaseChange(payment_state=step.state).then(learned), DeliveryStatus.PROCESSED
    )


def _required(plan: GrantPlan | None) -> Grant:
    """The grant this event must make; NeedsAttention if it could not be worked out."""
    if isinstance(plan, Grant):
        return plan
    raise NeedsAttention(plan.problem) if plan is not None else AssertionError("no grant planned")


def _granted(grant: Grant, payment: PaymentEvent, now: datetime) -> PurchaseChange:
    """What the purchase records once granted; the payment's latest figures where it has them."""
    return PurchaseChange(
        payment_state=PaymentState.PAID,
        credits=grant.credits,
        user_id=grant.user_id or payment.buyer.user_id,
        email=payment.buyer.email,
        credited_at=None if grant.user_id is None else now,
        amount=known(payment.amount),
        currency=known(payment.currency),
        payment_link=known(payment.payment_link),
    )


def _learned_ids(purchase: Purchase, payment: PaymentEvent) -> PurchaseChange:
    """The payment's other id, once an event names it (session first, PaymentIntent later)."""
    learned = NO_CHANGE
    if purchase.checkout_session_id is None and payment.checkout_session_id is not None:
        learned = replace(learned, checkout_session_id=payment.checkout_session_id)
    if purchase.payment_intent_id is None and payment.payment_intent_id is not None:
        learned = replace(learned, payment_intent_id=payment.payment_intent_id)
    return learned


def _reference(purchase: Purchase, payment: PaymentEvent) -> str:
    return payment.checkout_session_id or purchase.reference


def credit(
    change: PurchaseChange, purchase: Purchase, buyer: Buyer, reference: str, grant: Grant
) -> PaymentDecision:
    """`change`, and the grant into the buyer's wallet or parked until they register."""
    processed = DeliveryStatus.PROCESSED
    if grant.user_id is None:
        parked = ParkedGrant(purchase.id, buyer.user_id, buyer.email, grant.credits)
        return PaymentDecision(change, processed, parked=parked)
    reason = f"purchase of {grant.credits} credits ({reference})"
    posting = _grant_posting(purchase, grant.user_id, grant.credits, reference, reason)
    return PaymentDecision(change, processed, posting=posting)


def _grant_posting(
    purchase: Purchase, user_id: str, credits: int, reference: str, reason: str
) -> Posting:
    # One key per purchase (per invoice for a subscription's), shared by a direct grant and a
    # later claim: granted at most once. A subscription period's credits expire with it.
    invoice = purchase.invoice_id
    return Posting(
        user_id=user_id,
        delta=credits,
        kind=EntryKind.PURCHASE,
        reference=reference,
        key=purchase_grant_key(purchase.id) if invoice is None else invoice_grant_key(invoice),
        reason=reason,
        purchase_id=purchase.id,
        expires_at=purchase.credits_expire_at,
    )


@dataclass(frozen=True)
class Claim:
    """A pending grant moving into its buyer's wallet on registration."""

    change: PurchaseChange
    posting: Posting | None  # None when refunds before the claim left nothing to move


def claim(grant: PendingGrant, purchase: Purchase, user_id: str, now: datetime) -> Claim:
    """The purchase is credited to `user_id` now; what the refunds before left goes with it."""
    change = PurchaseChange(user_id=user_id, credited_at=now)
    if grant.credits == 0:
        return Claim(change, None)
    reference = purchase.reference
    reason = f"purchase of {grant.credits} credits ({reference}), claimed on registration"
    posting = _grant_posting(purchase, user_id, grant.credits, reference, reason)
    if posting.expires_at is not None and posting.expires_at <= now:
        # A subscription period that ended before its buyer registered: granted, and taken by
        # the next expiry run, so the ledger tells what happened to the credits.
        posting = replace(posting, expires_at=now + timedelta(seconds=1))
    return Claim(change, posting)
