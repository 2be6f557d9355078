"""domain/subscriptions.py: what each event does to a subscription, whatever the order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from creditflow.domain.credits import Catalog
from creditflow.domain.subscriptions import (
    Invoice,
    InvoiceEvent,
    InvoiceLine,
    InvoiceSignal,
    Subscription,
    SubscriptionChanged,
    after_change,
    after_invoice,
    credits_for_invoice,
    refuses_invoice,
    upgrade_credits,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def changed(status: str, at: datetime, **kwargs: object) -> SubscriptionChanged:
    values: dict[str, object] = {
        "event_id": f"evt_{status}_{at.timestamp()}",
        "subscription_id": "sub_1",
        "customer_id": "cus_1",
        "user_id": None,
        "status": status,
        "reported_at": at,
        "period_start": None,
        "period_end": None,
        "ended_at": None,
    }
    return SubscriptionChanged(**{**values, **kwargs})  # type: ignore[arg-type]


def invoice(start: datetime, reason: str = "subscription_cycle") -> Invoice:
    line = InvoiceLine("price_1", 1, start + 30 * DAY, period_start=start)
    return Invoice(
        "in_1", "sub_1", "cus_1", None, reason, "paid", 2000, "usd", False, None, None, (line,)
    )


def test_an_older_status_report_does_not_replace_a_newer_one() -> None:
    sub = after_change(Subscription("sub_1"), changed("active", T0 + DAY), "user_1")

    assert after_change(sub, changed("past_due", T0), None).status == "active"
    assert after_change(sub, changed("past_due", T0 + 2 * DAY), None).status == "past_due"


def test_canceled_is_final_and_keeps_its_first_end() -> None:
    ended = T0 + 5 * DAY
    sub = after_change(Subscription("sub_1"), changed("canceled", ended, ended_at=ended), None)
    later = after_change(sub, changed("active", T0 + 9 * DAY, ended_at=T0 + 9 * DAY), None)

    assert (later.status, later.ended_at) == ("canceled", ended)


def test_a_period_never_goes_back() -> None:
    sub = Subscription(
        "sub_1", current_period_start=T0 + 30 * DAY, current_period_end=T0 + 60 * DAY
    )

    late = after_change(sub, changed("active", T0, period_start=T0, period_end=T0 + 30 * DAY), None)

    assert late.current_period_end == T0 + 60 * DAY


def test_a_paid_invoice_activates_and_sets_the_plan_credits_and_period() -> None:
    sub = Subscription("sub_1", status="past_due")
    event = InvoiceEvent("evt_1", InvoiceSignal.PAID, invoice(T0), credits=500)

    after = after_invoice(sub, event, "user_1")

    assert (after.status, after.credits_per_period, after.user_id) == ("active", 500, "user_1")
    assert (after.current_period_start, after.current_period_end) == (T0, T0 + 30 * DAY)


def test_only_a_period_begun_before_the_end_grants_after_a_cancellation() -> None:
    sub = Subscription("sub_1", status="canceled", ended_at=T0 + 10 * DAY)

    assert refuses_invoice(sub, invoice(T0)) is None
    assert refuses_invoice(sub, invoice(T0 + 10 * DAY)) is not None
    assert refuses_invoice(Subscription("sub_1"), invoice(T0 + 99 * DAY)) is None


def test_a_plan_change_grants_only_more_credits_per_period() -> None:
    assert upgrade_credits(Subscription("sub_1", credits_per_period=1000), 3000) == 2000
    assert upgrade_credits(Subscription("sub_1", credits_per_period=1000), 200) == 0
    assert upgrade_credits(Subscription("sub_1"), 300) == 300


def test_the_old_plans_unused_time_buys_nothing_on_a_plan_change() -> None:
    unused = InvoiceLine("price_old", 1, T0 + 30 * DAY, period_start=T0, amount=-1000)
    remainder = InvoiceLine("price_new", 2, T0 + 30 * DAY, period_start=T0, amount=1500)
    change = replace(invoice(T0, "subscription_update"), lines=(unused, remainder))
    catalog = Catalog(prices={"price_old": 100, "price_new": 700})

    assert credits_for_invoice(change, catalog) == 1400
    assert credits_for_invoice(replace(change, billing_reason="manual"), catalog) == 1500
