"""A subscription's life after its first invoice: cancellation, and what it says of itself.

Payloads are Stripe's example invoice and subscription (tests/invoices.py), in both API shapes;
every case runs on SQLite and PostgreSQL and keeps exactly one grant per invoice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ClientFactory
from tests.integration.test_subscriptions import (
    CREDITS,
    GRACE,
    USER,
    grants,
    status,
    subscription_app,
)
from tests.invoices import (
    CUSTOMER_ID,
    INVOICE_ID,
    SHAPES,
    SUBSCRIPTION_ID,
    Shape,
    invoice_event,
    subscription_checkout_event,
    subscription_event,
)
from tests.support import (
    ManualClock,
    auth,
    balance,
    deliver,
    expire_due,
    register,
    stored_event,
)

DAY = timedelta(days=1)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def at(clock: ManualClock, days: float) -> int:
    """A Unix time `days` after the test's start."""
    return int((clock.now + timedelta(days=days)).timestamp())


@pytest.fixture
def app(client_for: ClientFactory, clock: ManualClock, catalog: Path) -> TestClient:
    return subscription_app(client_for, clock, catalog)


def period(shape: Shape, clock: ManualClock, n: int, **kwargs: Any) -> dict[str, Any]:
    """The `invoice.paid` of the subscription's n-th 30-day period (0: the first, the one its
    Checkout Session names)."""
    reason = "subscription_create" if n == 0 else "subscription_cycle"
    return invoice_event(
        shape,
        invoice_id=INVOICE_ID if n == 0 else f"in_period_{n}",
        period_start=at(clock, 30 * n),
        period_end=at(clock, 30 * (n + 1)),
        billing_reason=reason,
        **kwargs,
    )


def deleted(shape: Shape, ended: int, **kwargs: Any) -> dict[str, Any]:
    """`customer.subscription.deleted`, ended (and sent) at `ended`."""
    return subscription_event(
        shape,
        "customer.subscription.deleted",
        status="canceled",
        ended_at=ended,
        created=ended,
        **kwargs,
    )


def subscribed(app: TestClient, shape: Shape, clock: ManualClock) -> None:
    """USER subscribes: the session, then the first period's invoice."""
    register(app, USER)
    assert status(deliver(app, subscription_checkout_event())) == "processed"
    assert status(deliver(app, period(shape, clock, 0))) == "processed"
    assert balance(app, USER) == CREDITS


@pytest.mark.parametrize("shape", SHAPES)
def test_a_canceled_subscription_grants_no_later_period_and_its_credits_follow_their_expiry(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    subscribed(app, shape, clock)
    assert status(deliver(app, deleted(shape, at(clock, 10)))) == "processed"
    later = period(shape, clock, 1)
    assert status(deliver(app, later)) == "needs_attention"
    error = stored_event(app, later["id"])["error"]
    assert SUBSCRIPTION_ID in error
    assert "canceled" in error

    assert balance(app, USER) == CREDITS
    assert len(grants(app)) == 1
    clock.now += 30 * DAY + GRACE
    assert expire_due(app) == CREDITS
    assert balance(app, USER) == 0


@pytest.mark.parametrize("shape", SHAPES)
def test_an_invoice_for_a_period_begun_before_the_cancellation_still_grants(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    """The cancellation's event may overtake the last invoice's: that period was paid for."""
    register(app, USER)
    deliver(app, subscription_checkout_event())
    assert status(deliver(app, deleted(shape, at(clock, 10)))) == "processed"
    assert status(deliver(app, period(shape, clock, 0))) == "processed"

    assert balance(app, USER) == CREDITS


@pytest.mark.parametrize("shape", SHAPES)
def test_a_cancellation_is_final_whatever_arrives_after_it(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    subscribed(app, shape, clock)
    ended = at(clock, 10)
    late_update = subscription_event(shape, status="active", created=ended + 60)

    assert status(deliver(app, deleted(shape, ended))) == "processed"
    assert status(deliver(app, deleted(shape, ended, event_id="evt_again"))) == "duplicate"
    assert status(deliver(app, late_update)) == "duplicate"

    assert status(deliver(app, period(shape, clock, 1))) == "needs_attention"
    assert balance(app, USER) == CREDITS


@pytest.mark.parametrize("shape", SHAPES)
def test_a_subscription_canceled_at_its_period_end_grants_no_next_period(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    """`cancel_at_period_end`: Stripe ends it exactly when the next period would begin."""
    subscribed(app, shape, clock)
    end = at(clock, 30)

    assert status(deliver(app, deleted(shape, end))) == "processed"

    assert status(deliver(app, period(shape, clock, 1))) == "needs_attention"
    assert balance(app, USER) == CREDITS
    assert datetime.fromtimestamp(end, UTC) + GRACE == datetime.fromisoformat(
        grants(app)[0]["expires_at"]
    )


def subscriptions_of(app: TestClient, user_id: str = USER) -> list[dict[str, Any]]:
    response = app.get("/v1/subscriptions", params={"user_id": user_id}, headers=auth())
    assert response.status_code == 200, response.text
    return list(response.json()["subscriptions"])


def when(clock: ManualClock, days: float) -> datetime:
    return datetime.fromtimestamp(at(clock, days), UTC)


@pytest.mark.parametrize("shape", SHAPES)
def test_a_users_subscriptions_show_status_period_credits_and_grants(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    subscribed(app, shape, clock)
    [first] = subscriptions_of(app)
    assert (first["status"], first["credits_per_period"], first["ended_at"]) == (
        "active",
        CREDITS,
        None,
    )
    deliver(app, period(shape, clock, 1))
    past_due = subscription_event(
        shape, status="past_due", period_start=at(clock, 30), period_end=at(clock, 60)
    )
    assert status(deliver(app, past_due)) == "processed"

    [sub] = subscriptions_of(app)

    assert (sub["subscription_id"], sub["user_id"], sub["customer_id"]) == (
        SUBSCRIPTION_ID,
        USER,
        CUSTOMER_ID,
    )
    assert sub["status"] == "past_due"
    assert datetime.fromisoformat(sub["current_period_start"]) == when(clock, 30)
    assert datetime.fromisoformat(sub["current_period_end"]) == when(clock, 60)
    assert [(g["invoice_id"], g["credits"], g["status"]) for g in sub["grants"]] == [
        ("in_period_1", CREDITS, "paid"),
        (INVOICE_ID, CREDITS, "paid"),
    ]
    assert [datetime.fromisoformat(g["expires_at"]) for g in sub["grants"]] == [
        when(clock, 60) + GRACE,
        when(clock, 30) + GRACE,
    ]
    assert subscriptions_of(app, "user_nobody") == []


@pytest.mark.parametrize("shape", SHAPES)
def test_a_canceled_subscription_shows_when_it_ended(
    app: TestClient, clock: ManualClock, shape: Shape
) -> None:
    subscribed(app, shape, clock)
    deliver(app, deleted(shape, at(clock, 10)))

    [sub] = subscriptions_of(app)

    assert sub["status"] == "canceled"
    assert datetime.fromisoformat(sub["ended_at"]) == when(clock, 10)
    assert len(sub["grants"]) == 1


def test_subscriptions_need_a_user_id(app: TestClient) -> None:
    assert app.get("/v1/subscriptions", headers=auth()).status_code == 422
