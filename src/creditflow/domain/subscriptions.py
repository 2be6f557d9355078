"""Subscription invoices as the core sees them, and how many credits a paid one grants.

A subscription is paid for by one invoice per period; each paid invoice grants that period's
credits once (the invoice's purchase row and its ledger key, domain/keys.py). This module only
decides: the Stripe shapes are read in adapters/stripe/invoices.py.

Credits per line item, first that applies (issue 13, "How many credits"): the subscription's
`metadata.credits` (per unit, per period), else the catalog's price entry, else the price's own
`metadata.credits` (in the payload before 2025-03-31, through the API since); otherwise nothing
is guessed and the delivery needs attention.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from creditflow.domain.buyers import Buyer
from creditflow.domain.credits import (
    Catalog,
    NoCreditsRule,
    parse_credits,
    total_credits,
    unit_credits,
)

DEFAULT_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class InvoiceLine:
    """One line of an invoice: its price, quantity and the end of the period it pays for."""

    price_id: str | None
    quantity: int
    period_end: datetime | None
    price_credits: str | None = None  # the price's metadata.credits, when the payload has it
    period_start: datetime | None = None
    amount: int | None = None  # negative: a proration's credit for the old plan's unused time


@dataclass(frozen=True)
class Invoice:
    """What an invoice says, in either API shape (before and since 2025-03-31)."""

    invoice_id: str
    subscription_id: str | None
    customer_id: str | None
    customer_email: str | None
    billing_reason: str | None
    status: str | None
    amount_paid: int | None
    currency: str | None
    livemode: bool
    metadata_user_id: str | None
    metadata_credits: str | None
    lines: tuple[InvoiceLine, ...]
    payment_intent_id: str | None = None  # named by the invoice before 2025-03-31 only

    @property
    def buyer(self) -> Buyer:
        """The user the subscription's metadata names, and the invoice's e-mail."""
        return Buyer(user_id=self.metadata_user_id, email=self.customer_email)

    @property
    def period_start(self) -> datetime | None:
        """The earliest period start of its lines: when the period it pays for began."""
        starts = [line.period_start for line in self.lines if line.period_start is not None]
        return min(starts) if starts else None

    @property
    def period_end(self) -> datetime | None:
        """The latest period end of its lines: when this period's credits stop being this
        period's."""
        ends = [line.period_end for line in self.lines if line.period_end is not None]
        return max(ends) if ends else None


def prices_to_look_up(invoice: Invoice, catalog: Catalog) -> list[str]:
    """The prices whose own metadata.credits only Stripe's API can tell (rule 3)."""
    if invoice.metadata_credits is not None:
        return []
    return sorted(
        {
            line.price_id
            for line in invoice.lines
            if line.price_id is not None
            and line.price_id not in catalog.prices
            and line.price_credits is None
        }
    )


def credits_for_invoice(
    invoice: Invoice, catalog: Catalog, looked_up: Mapping[str, str | None] | None = None
) -> int:
    """The period's credits: per line, credits per unit times the quantity. `looked_up`: the
    prices' metadata.credits read through the API (`prices_to_look_up`).

    Raises NoCreditsRule when no rule prices a line.
    """
    lines = _plan_lines(invoice)
    if not lines:
        raise NoCreditsRule(f"invoice {invoice.invoice_id} has no line items to grant credits for")
    per_unit = None if invoice.metadata_credits is None else _metadata_credits(invoice)
    total = 0
    unknown = []
    for line in lines:
        unit = per_unit
        if unit is None and line.price_id is not None:
            own = line.price_credits or (looked_up or {}).get(line.price_id)
            unit = unit_credits(line.price_id, catalog, own)
        if unit is None:
            unknown.append(line.price_id or "(no price)")
            continue
        total += total_credits(unit, line.quantity, f"invoice {invoice.invoice_id}")
    if unknown:
        raise NoCreditsRule(
            f"invoice {invoice.invoice_id}: price(s) {', '.join(sorted(set(unknown)))} not in "
            "the catalog, without metadata.credits, and the subscription has none"
        )
    if total == 0:
        raise NoCreditsRule(f"invoice {invoice.invoice_id} bills no units, so grants no credits")
    return total_credits(total, 1, f"invoice {invoice.invoice_id}")


def _plan_lines(invoice: Invoice) -> tuple[InvoiceLine, ...]:
    """The lines that bill a plan: a plan change's invoice (`subscription_update`) also credits
    the old plan's unused time (a negative line), which buys nothing."""
    if invoice.billing_reason != UPDATE_REASON:
        return invoice.lines
    return tuple(line for line in invoice.lines if line.amount is None or line.amount >= 0)


def upgrade_credits(sub: Subscription, new_plan_credits: int) -> int:
    """What a paid plan change grants for the rest of the current period: the difference when
    the new plan gives more per period than the one it replaces (unknown: nothing was granted
    for a period yet, so all of it); nothing for a downgrade, which takes effect at the next
    cycle and takes nothing back."""
    return max(0, new_plan_credits - (sub.credits_per_period or 0))


def _metadata_credits(invoice: Invoice) -> int:
    try:
        return parse_credits(invoice.metadata_credits)
    except NoCreditsRule as exc:
        raise NoCreditsRule(f"subscription {invoice.subscription_id}: {exc.message}") from exc


def rolls_over(invoice: Invoice, catalog: Catalog) -> bool:
    """Whether the period's credits never expire: every line's price says `rollover = true`."""
    prices = [line.price_id for line in invoice.lines]
    return bool(prices) and all(price in catalog.rollover for price in prices)


def credits_expire_at(invoice: Invoice, grace: timedelta) -> datetime | None:
    """A period's credits reset: they expire at its end plus `grace` (None: no period given)."""
    end = invoice.period_end
    return None if end is None else (end + grace).astimezone(UTC)


class InvoiceSignal(StrEnum):
    PAID = "paid"
    FAILED = "failed"


@dataclass(frozen=True)
class InvoiceEvent:
    """A subscription invoice paid (`invoice.paid`, `invoice.payment_succeeded`) or failed.

    `credits` is None when no rule gave a number (`credits_problem` says why)."""

    event_id: str
    signal: InvoiceSignal
    invoice: Invoice
    credits: int | None = None
    credits_problem: str | None = None
    rollover: bool = False  # the period's credits never expire


@dataclass(frozen=True)
class InvoicePaymentPaid:
    """`invoice_payment.paid`: the PaymentIntent that paid an invoice. Since 2025-03-31 the
    invoice no longer names it, and refunds and disputes name only the PaymentIntent."""

    event_id: str
    invoice_id: str
    payment_intent_id: str
    livemode: bool = False


@dataclass(frozen=True)
class SubscriptionCheckout:
    """A `mode=subscription` Checkout Session completed: it grants nothing itself, it links the
    Stripe customer to the app's user (and names the subscription's first invoice)."""

    event_id: str
    customer_id: str | None
    subscription_id: str | None
    invoice_id: str | None
    buyer: Buyer
    livemode: bool = False


# Stripe never reopens a subscription in these: no later report changes them.
FINAL_STATUSES = frozenset({"canceled", "incomplete_expired"})
# A paid invoice makes a subscription in these active (Stripe says so in its own event too).
ACTIVATED_BY_PAYMENT = frozenset({None, "incomplete", "past_due", "unpaid"})
# The invoices that bill a whole period of the plan: their credits are the plan's per period.
UPDATE_REASON = "subscription_update"
PLAN_REASONS = frozenset({None, "subscription_create", "subscription_cycle", UPDATE_REASON})


@dataclass(frozen=True)
class Subscription:
    """A Stripe subscription as creditflow knows it: from its Checkout Session, its invoices and
    `customer.subscription.*` events. `ended_at` set: canceled; later periods grant nothing."""

    subscription_id: str
    livemode: bool = False
    customer_id: str | None = None
    user_id: str | None = None
    status: str | None = None
    status_at: datetime | None = None  # when Stripe reported `status`
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    credits_per_period: int | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class SubscriptionChanged:
    """`customer.subscription.created`, `.updated` or `.deleted`; `reported_at`: the event's
    `created`; `ended_at`: when a deleted (or canceled) one ended."""

    event_id: str
    subscription_id: str
    customer_id: str | None
    user_id: str | None
    status: str | None
    reported_at: datetime | None
    period_start: datetime | None
    period_end: datetime | None
    ended_at: datetime | None
    livemode: bool = False


def after_change(
    current: Subscription, event: SubscriptionChanged, user_id: str | None
) -> Subscription:
    """The subscription once a `customer.subscription.*` event is applied (`user_id`: its
    metadata's, else the customer's linked user). Events may come late or out of order: a
    status older than the one stored is not applied, a period never goes back, and canceled is
    final (its first `ended_at` stays)."""
    sub = _known(current, event.customer_id, user_id)
    sub = _period(sub, event.period_start, event.period_end)
    if sub.status in FINAL_STATUSES:
        return sub
    newer = sub.status_at is None or event.reported_at is None or event.reported_at >= sub.status_at
    if event.status is not None and newer:
        sub = replace(sub, status=event.status, status_at=event.reported_at or sub.status_at)
    if sub.status in FINAL_STATUSES:
        sub = replace(sub, ended_at=event.ended_at or event.reported_at or sub.current_period_end)
    return sub


def after_invoice(current: Subscription, event: InvoiceEvent, user_id: str | None) -> Subscription:
    """The subscription once its invoice is paid (a failed one changes nothing here: Stripe's
    own `customer.subscription.updated` says past_due): its period, the plan's credits per
    period (from an invoice billing a whole period), active again after a payment."""
    invoice = event.invoice
    sub = _known(current, invoice.customer_id, user_id)
    if event.signal is not InvoiceSignal.PAID:
        return sub
    sub = _period(sub, invoice.period_start, invoice.period_end)
    if event.credits is not None and invoice.billing_reason in PLAN_REASONS:
        sub = replace(sub, credits_per_period=event.credits)
    if sub.status in ACTIVATED_BY_PAYMENT:
        sub = replace(sub, status="active")
    return sub


def refuses_invoice(sub: Subscription, invoice: Invoice) -> str | None:
    """Why a paid invoice grants nothing: its subscription was canceled before the period it
    pays for began (None: it grants). An invoice for a period begun before the cancellation
    (late, or a final one) still grants; credits granted before follow their own expiry."""
    ended = sub.ended_at
    start = invoice.period_start
    if ended is None or (start is not None and start < ended):
        return None
    when = "an unknown time" if start is None else start.isoformat()
    return (
        f"invoice {invoice.invoice_id} was paid for a period starting at {when}, after "
        f"subscription {sub.subscription_id} ended at {ended.isoformat()}: a canceled "
        "subscription grants no more credits (refund the payment in Stripe, or grant credits "
        "with POST /v1/wallets/{user}/grants)"
    )


def linked(current: Subscription, session: Subscription) -> Subscription:
    """The subscription once its Checkout Session names its customer and user."""
    return _known(current, session.customer_id, session.user_id)


def _known(sub: Subscription, customer_id: str | None, user_id: str | None) -> Subscription:
    """The customer and user an event names, where none is stored yet: the first link wins."""
    return replace(sub, customer_id=sub.customer_id or customer_id, user_id=sub.user_id or user_id)


def _period(sub: Subscription, start: datetime | None, end: datetime | None) -> Subscription:
    """A later period replaces the stored one; an earlier one (a late event) does not."""
    stored = sub.current_period_end
    if end is None or (stored is not None and end < stored):
        return sub
    if start is None and end == stored:
        start = sub.current_period_start
    return replace(sub, current_period_start=start, current_period_end=end)


@dataclass(frozen=True)
class SubscriptionGrant:
    """A period's grant as a subscription lists it: its invoice's purchase."""

    invoice_id: str
    status: str
    credits: int | None
    user_id: str | None
    credited_at: datetime | None
    expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription and the grants made for it, newest first: what `GET /v1/subscriptions`
    and `creditflow subscriptions` show."""

    subscription: Subscription
    grants: tuple[SubscriptionGrant, ...]
