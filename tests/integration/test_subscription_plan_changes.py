"""Plan changes: a paid `subscription_update` invoice whose new plan gives more credits per
period grants the difference for the rest of the current period, expiring with it; a downgrade
takes effect at the next cycle and takes nothing back. Both shapes, both engines."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ClientFactory
from tests.integration.test_subscription_lifecycle import at, period, subscribed
from tests.integration.test_subscriptions import CREDITS, GRACE, USER, grants, status
from tests.invoices import PRICE_ID, SHAPES, Shape, invoice_event
from tests.support import ManualClock, balance, deliver

PRO, PRO_CREDITS = "price_pro", 3000
BASIC, BASIC_CREDITS = "price_basic", 200


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def plans(client_for: ClientFactory, clock: ManualClock, catalog: Path) -> TestClient:
    """PRICE_ID (CREDITS a period), and a bigger and a smaller plan."""
    catalog.write_text(
        f"[prices.{PRICE_ID}]\ncredits = {CREDITS}\n"
        f"[prices.{PRO}]\ncredits = {PRO_CREDITS}\n"
        f"[prices.{BASIC}]\ncredits = {BASIC_CREDITS}\n"
    )
    return client_for(clock=clock, catalog_path=catalog, expiry_interval_seconds=0)


def changed_to(shape: Shape, clock: ManualClock, price: str) -> dict[str, Any]:
    """The paid `subscription_update` invoice of a change, half-way through the first period,
    to `price`: a credit for the old plan's unused time (negative), the new plan's remainder."""
    event = invoice_event(
        shape,
        invoice_id=f"in_change_to_{price}",
        billing_reason="subscription_update",
        period_start=at(clock, 15),
        period_end=at(clock, 30),
    )
    lines = event["data"]["object"]["lines"]["data"]
    unused = lines[0]
    unused["amount"] = -1000
    remainder = copy.deepcopy(unused)
    remainder.update(id="il_remainder", amount=1500)
    lines.append(priced(shape, remainder, price))
    return event


def priced(shape: Shape, line: dict[str, Any], price: str) -> dict[str, Any]:
    """The invoice line, billing `price` instead."""
    if shape == "legacy":
        line["price"]["id"] = price
    else:
        line["pricing"]["price_details"]["price"] = price
    return line


def next_cycle_on(shape: Shape, clock: ManualClock, price: str) -> dict[str, Any]:
    """The second period's invoice, billing the plan changed to."""
    event = period(shape, clock, 1)
    priced(shape, event["data"]["object"]["lines"]["data"][0], price)
    return event


@pytest.mark.parametrize("shape", SHAPES)
def test_an_upgrade_grants_the_difference_expiring_with_the_period(
    plans: TestClient, clock: ManualClock, shape: Shape
) -> None:
    subscribed(plans, shape, clock)

    assert status(deliver(plans, changed_to(shape, clock, PRO))) == "processed"

    assert balance(plans, USER) == PRO_CREDITS
    upgrade = grants(plans)[0]
    assert upgrade["delta"] == PRO_CREDITS - CREDITS
    end = datetime.fromtimestamp(at(clock, 30), UTC) + GRACE
    assert datetime.fromisoformat(upgrade["expires_at"]) == end
    # The next cycle grants the new plan's credits.
    assert status(deliver(plans, next_cycle_on(shape, clock, PRO))) == "processed"
    assert grants(plans)[0]["delta"] == PRO_CREDITS


@pytest.mark.parametrize("shape", SHAPES)
def test_a_downgrade_takes_nothing_back_and_the_next_cycle_grants_the_smaller_plan(
    plans: TestClient, clock: ManualClock, shape: Shape
) -> None:
    subscribed(plans, shape, clock)
    downgrade = changed_to(shape, clock, BASIC)

    assert status(deliver(plans, downgrade)) == "processed"
    assert status(deliver(plans, downgrade | {"id": "evt_again"})) == "duplicate"

    assert balance(plans, USER) == CREDITS
    assert len(grants(plans)) == 1
    assert status(deliver(plans, next_cycle_on(shape, clock, BASIC))) == "processed"
    assert grants(plans)[0]["delta"] == BASIC_CREDITS
    assert balance(plans, USER) == CREDITS + BASIC_CREDITS
