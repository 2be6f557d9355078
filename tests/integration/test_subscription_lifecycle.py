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
    SHAPES,
    SUBSCRIPTION_ID,
    Shape,
    invoice_event,
    subscription_checkout_event,
    subscription_event,
)
from tests.support import ManualClock, balance, deliver, expire_due, register, stored_event

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
    """The `invoice.paid` of the subscription's n-th 30-day period (0: the first)."""
    reason = "subscription_create" if n == 0 else "subscription_cycle"
    return invoice_event(
        shape,
        invoice_id=f"in_period_{n}",
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
