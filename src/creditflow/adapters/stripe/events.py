"""Translate Stripe events into what the core acts on. Which event types mean what lives here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from creditflow.adapters.stripe.fields import (
    MAX_EMAIL_LENGTH,
    amount_of,
    flag_of,
    id_of,
    mapping_of,
    metadata_of,
    text_of,
    time_of,
)
from creditflow.adapters.stripe.invoices import read_invoice
from creditflow.adapters.stripe.money_back import MONEY_BACK_EVENTS, interpret_money_back
from creditflow.adapters.stripe.payment_intents import (
    PAYMENT_INTENT_SIGNALS,
    interpret_payment_intent,
)
from creditflow.adapters.stripe.subscriptions import (
    SUBSCRIPTION_EVENTS,
    read_subscription_change,
)
from creditflow.domain.buyers import Buyer
from creditflow.domain.credits import (
    Catalog,
    CreditFacts,
    LineItem,
    NoCreditsRule,
    credits_for,
    needs_line_items,
)
from creditflow.domain.payments import IgnoredEvent, Interpretation, PaymentEvent, PaymentSignal
from creditflow.domain.subscriptions import (
    Invoice,
    InvoiceEvent,
    InvoicePaymentPaid,
    InvoiceSignal,
    SubscriptionCheckout,
    credits_for_invoice,
    prices_to_look_up,
    rolls_over,
)
from creditflow.errors import NeedsAttention, NotConfigured, NotFound, StripeRefused
from creditflow.services.deliveries import StripeCallNeeded

# checkout.session.completed says "paid" or "unpaid" itself (delayed payment methods).
CHECKOUT_SIGNALS: dict[str, PaymentSignal | None] = {
    "checkout.session.completed": None,
    "checkout.session.async_payment_succeeded": PaymentSignal.PAID,
    "checkout.session.async_payment_failed": PaymentSignal.FAILED,
    "checkout.session.expired": PaymentSignal.EXPIRED,
}
# Stripe's guidance: provision on invoice.paid; invoice.payment_succeeded of the same invoice
# grants nothing more (one grant per invoice, enforced by the database).
INVOICE_SIGNALS = {
    "invoice.paid": InvoiceSignal.PAID,
    "invoice.payment_succeeded": InvoiceSignal.PAID,
    "invoice.payment_failed": InvoiceSignal.FAILED,
}
# Since 2025-03-31 the invoice no longer names its PaymentIntent: this event links them.
INVOICE_PAYMENT_PAID = "invoice_payment.paid"
HANDLED_EVENT_TYPES = (
    *CHECKOUT_SIGNALS,
    *PAYMENT_INTENT_SIGNALS,
    *MONEY_BACK_EVENTS,
    *INVOICE_SIGNALS,
    *SUBSCRIPTION_EVENTS,
    INVOICE_PAYMENT_PAID,
)
# `no_payment_required`: a 100% discount; the buyer still bought the pack.
PAID_STATUSES = {"paid", "no_payment_required"}


class LineItemSource(Protocol):
    """Reads a session's line items and a price's metadata.credits from Stripe (`StripeGateway`);
    may raise StripeUnavailable."""

    def line_items(self, checkout_session_id: str) -> list[LineItem]: ...

    def price_credits(self, price_id: str) -> str | None: ...


class StripeEventInterpreter:
    def __init__(self, catalog: Callable[[], Catalog], line_items: LineItemSource | None) -> None:
        self._catalog = catalog
        self._line_items = line_items

    def offline(self) -> StripeEventInterpreter:
        """This interpreter, raising StripeCallNeeded where it would call Stripe's API."""
        if self._line_items is None:  # it never calls Stripe
            return self
        return StripeEventInterpreter(self._catalog, _NoStripeCalls())

    def interpret(self, event: Mapping[str, Any]) -> Interpretation:
        event_type = event["type"]
        event_id = str(event.get("id", ""))  # the delivery was stored under it: always there
        obj = event["data"]["object"]
        if event_type in CHECKOUT_SIGNALS:
            return self._checkout(event_id, event_type, obj)
        if event_type in PAYMENT_INTENT_SIGNALS:
            return interpret_payment_intent(event_id, event_type, obj)
        if event_type in INVOICE_SIGNALS:
            return self._invoice(event_id, INVOICE_SIGNALS[event_type], obj)
        if event_type == INVOICE_PAYMENT_PAID:
            return _invoice_payment(event_id, obj)
        if event_type in SUBSCRIPTION_EVENTS:
            return read_subscription_change(event_id, event_type, obj, time_of(event, "created"))
        if event_type in MONEY_BACK_EVENTS:
            return interpret_money_back(event_id, event_type, obj, time_of(event, "created"))
        return IgnoredEvent(f"{event_type} is not an event creditflow acts on")

    def _checkout(
        self, event_id: str, event_type: str, session: Mapping[str, Any]
    ) -> Interpretation:
        session_id = text_of(session, "id")
        if session.get("object") != "checkout.session" or session_id is None:
            raise NeedsAttention(f"{event_type} does not carry a checkout session")
        mode = text_of(session, "mode") or "payment"
        if mode == "subscription" and event_type == "checkout.session.completed":
            return SubscriptionCheckout(
                event_id=event_id,
                customer_id=id_of(session, "customer"),
                subscription_id=id_of(session, "subscription"),
                invoice_id=id_of(session, "invoice"),
                buyer=_buyer(session),
                livemode=flag_of(session, "livemode"),
            )
        if mode != "payment":
            return IgnoredEvent(f"checkout session in {mode} mode buys no credits")
        signal = CHECKOUT_SIGNALS[event_type] or _completed_signal(session)
        credits, problem = self._price(session) if signal is PaymentSignal.PAID else (None, None)
        return PaymentEvent(
            event_id=event_id,
            checkout_session_id=session_id,
            payment_intent_id=id_of(session, "payment_intent"),
            signal=signal,
            buyer=_buyer(session),
            amount=amount_of(session, "amount_total"),
            currency=text_of(session, "currency", max_length=3),
            payment_link=id_of(session, "payment_link"),
            livemode=flag_of(session, "livemode"),
            credits=credits,
            credits_problem=problem,
        )

    def _invoice(
        self, event_id: str, signal: InvoiceSignal, obj: Mapping[str, Any]
    ) -> Interpretation:
        invoice = read_invoice(obj)
        if invoice.subscription_id is None:
            return IgnoredEvent(f"invoice {invoice.invoice_id} is not a subscription's")
        if signal is not InvoiceSignal.PAID:
            return InvoiceEvent(event_id, signal, invoice)
        try:
            catalog = self._invoice_catalog(invoice)
            source = self._line_items
            looked_up = (
                {}
                if source is None
                else {p: source.price_credits(p) for p in prices_to_look_up(invoice, catalog)}
            )
            credits = credits_for_invoice(invoice, catalog, looked_up)
            return InvoiceEvent(
                event_id, signal, invoice, credits, rollover=rolls_over(invoice, catalog)
            )
        except (NoCreditsRule, NotConfigured, NotFound, StripeRefused) as exc:
            return InvoiceEvent(event_id, signal, invoice, credits_problem=exc.message)

    def _invoice_catalog(self, invoice: Invoice) -> Catalog:
        """The catalog (its rollover entries apply to any invoice); a broken catalog file does
        not block an invoice whose subscription's metadata.credits prices it."""
        try:
            return self._catalog()
        except NotConfigured:
            if invoice.metadata_credits is None:
                raise
            return Catalog()

    def _price(self, session: Mapping[str, Any]) -> tuple[int | None, str | None]:
        raw = metadata_of(session).get("credits")
        facts = CreditFacts(
            metadata_credits=None if raw is None else str(raw),
            payment_link=id_of(session, "payment_link"),
            line_items=None,
        )
        try:
            # metadata.credits needs no catalog, so a broken catalog file cannot block it.
            catalog = Catalog() if facts.metadata_credits is not None else self._catalog()
            if self._line_items is not None and needs_line_items(facts):
                facts = replace(facts, line_items=self._line_items.line_items(session["id"]))
            return credits_for(facts, catalog), None
        except (NoCreditsRule, NotConfigured, NotFound, StripeRefused) as exc:
            # Retrying cannot price it (a refused key is NotConfigured); an operator can, then
            # replay. StripeUnavailable is not caught: the delivery fails and Stripe retries.
            return None, exc.message


class _NoStripeCalls:
    """The line-item source of an offline interpreter (group commit's event loop)."""

    def line_items(self, checkout_session_id: str) -> list[LineItem]:
        raise StripeCallNeeded(f"line items of {checkout_session_id}")

    def price_credits(self, price_id: str) -> str | None:
        raise StripeCallNeeded(f"metadata of {price_id}")


def _invoice_payment(event_id: str, obj: Mapping[str, Any]) -> Interpretation:
    invoice_id = id_of(obj, "invoice")
    if obj.get("object") != "invoice_payment" or invoice_id is None:
        raise NeedsAttention("invoice_payment.paid does not carry an invoice payment")
    intent_id = id_of(mapping_of(obj, "payment"), "payment_intent")
    if intent_id is None:
        return IgnoredEvent(f"invoice {invoice_id} was paid without a PaymentIntent")
    return InvoicePaymentPaid(event_id, invoice_id, intent_id, flag_of(obj, "livemode"))


def _completed_signal(session: Mapping[str, Any]) -> PaymentSignal:
    if text_of(session, "payment_status") in PAID_STATUSES:
        return PaymentSignal.PAID
    return PaymentSignal.AWAITING


def _buyer(session: Mapping[str, Any]) -> Buyer:
    details = mapping_of(session, "customer_details")
    return Buyer(
        user_id=text_of(session, "client_reference_id") or text_of(metadata_of(session), "user_id"),
        email=text_of(details, "email", MAX_EMAIL_LENGTH)
        or text_of(session, "customer_email", MAX_EMAIL_LENGTH),
    )
