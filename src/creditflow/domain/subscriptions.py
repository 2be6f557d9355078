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
from dataclasses import dataclass
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

    @property
    def buyer(self) -> Buyer:
        """The user the subscription's metadata names, and the invoice's e-mail."""
        return Buyer(user_id=self.metadata_user_id, email=self.customer_email)

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
    if not invoice.lines:
        raise NoCreditsRule(f"invoice {invoice.invoice_id} has no line items to grant credits for")
    per_unit = None if invoice.metadata_credits is None else _metadata_credits(invoice)
    total = 0
    unknown = []
    for line in invoice.lines:
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
class SubscriptionCheckout:
    """A `mode=subscription` Checkout Session completed: it grants nothing itself, it links the
    Stripe customer to the app's user (and names the subscription's first invoice)."""

    event_id: str
    customer_id: str | None
    subscription_id: str | None
    invoice_id: str | None
    buyer: Buyer
    livemode: bool = False
