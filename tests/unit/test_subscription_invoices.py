"""Reading a subscription invoice in both API shapes, and the credits a period grants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from creditflow.adapters.stripe.fields import UnreadableField
from creditflow.adapters.stripe.invoices import read_invoice
from creditflow.domain.credits import Catalog, NoCreditsRule
from creditflow.domain.subscriptions import (
    Invoice,
    credits_expire_at,
    credits_for_invoice,
    prices_to_look_up,
)
from creditflow.errors import NeedsAttention
from tests.invoices import (
    CUSTOMER_ID,
    INVOICE_ID,
    PERIOD_END,
    PRICE_ID,
    SHAPES,
    SUBSCRIPTION_ID,
    Shape,
    invoice_event,
)

CATALOG = Catalog(prices={PRICE_ID: 1000})


def read(shape: Shape, **kwargs: object) -> Invoice:
    return read_invoice(invoice_event(shape, **kwargs)["data"]["object"])  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", SHAPES)
def test_both_shapes_read_the_same_invoice(shape: Shape) -> None:
    invoice = read(shape, metadata={"user_id": "user_7", "credits": "50"})
    assert invoice.invoice_id == INVOICE_ID
    assert invoice.subscription_id == SUBSCRIPTION_ID
    assert invoice.customer_id == CUSTOMER_ID
    assert invoice.billing_reason == "subscription_create"
    assert invoice.metadata_user_id == "user_7"
    assert invoice.metadata_credits == "50"
    assert invoice.amount_paid == 2000
    [line] = invoice.lines
    assert line.price_id == PRICE_ID
    assert line.quantity == 1
    assert line.period_end == datetime.fromtimestamp(PERIOD_END, UTC)


@pytest.mark.parametrize("shape", SHAPES)
def test_customer_email_is_the_buyer_email_case_insensitively(shape: Shape) -> None:
    invoice = read(shape, customer_email="Ana@Example.COM")
    assert invoice.buyer.email == "ana@example.com"
    assert invoice.buyer.user_id is None


def test_the_basil_shape_has_no_legacy_fields() -> None:
    obj = invoice_event("basil")["data"]["object"]
    assert obj.get("subscription") is None
    assert obj.get("payment_intent") is None
    assert "price" not in obj["lines"]["data"][0]
    assert read("basil").subscription_id == SUBSCRIPTION_ID


def test_an_invoice_without_subscription_reads_as_none() -> None:
    event = invoice_event("legacy", subscription=None)
    assert read_invoice(event["data"]["object"]).subscription_id is None


@pytest.mark.parametrize("shape", SHAPES)
def test_subscription_metadata_credits_win_over_the_catalog(shape: Shape) -> None:
    invoice = read(shape, metadata={"credits": "30"}, quantity=2)
    assert credits_for_invoice(invoice, CATALOG) == 60


@pytest.mark.parametrize("shape", SHAPES)
def test_the_catalog_price_entry_times_the_quantity(shape: Shape) -> None:
    assert credits_for_invoice(read(shape, quantity=3), CATALOG) == 3000


@pytest.mark.parametrize("shape", SHAPES)
def test_no_rule_needs_attention(shape: Shape) -> None:
    with pytest.raises(NoCreditsRule, match=PRICE_ID):
        credits_for_invoice(read(shape), Catalog())


def test_bad_metadata_credits_are_refused_not_rounded() -> None:
    with pytest.raises(NoCreditsRule, match=SUBSCRIPTION_ID):
        credits_for_invoice(read("basil", metadata={"credits": "10.5"}), CATALOG)


def test_an_invoice_billing_no_units_grants_nothing() -> None:
    with pytest.raises(NoCreditsRule, match="no units"):
        credits_for_invoice(read("basil", quantity=0), CATALOG)


def test_credits_expire_at_the_period_end_plus_grace() -> None:
    expires = credits_expire_at(read("basil"), timedelta(hours=6))
    assert expires == datetime.fromtimestamp(PERIOD_END, UTC) + timedelta(hours=6)


def test_a_non_invoice_object_needs_attention() -> None:
    with pytest.raises(NeedsAttention, match="invoice"):
        read_invoice({"object": "charge", "id": "ch_1"})


def test_a_quantity_that_is_not_whole_is_unreadable() -> None:
    event = invoice_event("basil")
    event["data"]["object"]["lines"]["data"][0]["quantity"] = "2"
    with pytest.raises(UnreadableField, match="quantity"):
        read_invoice(event["data"]["object"])


def test_a_legacy_line_carries_its_price_metadata_credits() -> None:
    event = invoice_event("legacy")
    event["data"]["object"]["lines"]["data"][0]["price"]["metadata"] = {"credits": "25"}
    invoice = read_invoice(event["data"]["object"])

    assert prices_to_look_up(invoice, Catalog()) == []
    assert credits_for_invoice(invoice, Catalog()) == 25


def test_a_basil_line_price_is_looked_up_unless_the_catalog_or_subscription_prices_it() -> None:
    invoice = read("basil", quantity=2)

    assert prices_to_look_up(invoice, Catalog()) == [PRICE_ID]
    assert prices_to_look_up(invoice, CATALOG) == []
    assert prices_to_look_up(read("basil", metadata={"credits": "5"}), Catalog()) == []
    assert credits_for_invoice(invoice, Catalog(), {PRICE_ID: "40"}) == 80
    assert credits_for_invoice(invoice, CATALOG, {PRICE_ID: "40"}) == 2000  # the catalog first
