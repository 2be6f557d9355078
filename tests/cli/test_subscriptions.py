"""`creditflow subscriptions [USER_ID]`, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.cli.support import cli, cli_json
from tests.invoices import INVOICE_ID, SUBSCRIPTION_ID, invoice_event, subscription_checkout_event
from tests.support import deliver, register

pytestmark = pytest.mark.usefixtures("cli_database")

USER = "user_42"  # the subscription Checkout Session's client_reference_id


def test_subscriptions_lists_a_users_subscription_with_its_grants(client: TestClient) -> None:
    register(client, USER)
    end = int((datetime.now(UTC) + timedelta(days=30)).timestamp())
    deliver(client, subscription_checkout_event())
    deliver(client, invoice_event("basil", metadata={"credits": "250"}, period_end=end))

    [sub] = cli_json("subscriptions", USER)["subscriptions"]
    assert (sub["subscription_id"], sub["status"], sub["credits_per_period"]) == (
        SUBSCRIPTION_ID,
        "active",
        250,
    )
    assert [(g["invoice_id"], g["credits"]) for g in sub["grants"]] == [(INVOICE_ID, 250)]
    assert cli_json("subscriptions")["subscriptions"] == [sub]

    shown = cli("subscriptions", USER).stdout
    assert SUBSCRIPTION_ID in shown
    assert f"{INVOICE_ID}: 250 (paid)" in shown
    assert "has none" in cli("subscriptions", "user_nobody").stdout
