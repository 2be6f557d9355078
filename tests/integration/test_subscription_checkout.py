"""POST /v1/checkout-sessions for a plan: a subscription-mode session naming the user everywhere.

A price is recurring when its catalog entry says `recurring = true` (or `rollover = true`), or,
for a price the catalog does not know, when Stripe's price object has `type: recurring`. Stripe
is the fake API on a real port (tests/fakes/stripe_api.py), which refuses a recurring price in
payment mode and a one-time price in subscription mode, as Stripe does. Both engines.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.fakes.stripe_api import FakeStripeApi
from tests.support import create_checkout, error_of, register, table_snapshot

USER = "user_9"
PLAN = "price_1PlanPro"
SESSIONS = "/v1/checkout/sessions"


def plan_shop(stripe_app: TestClient, catalog: Path, entry: str) -> TestClient:
    catalog.write_text(f'[prices.{PLAN}]\ncredits = 1000\n{entry}\n[packs.pro]\nprice = "{PLAN}"\n')
    register(stripe_app, USER, "grace@example.com")
    return stripe_app


def assert_subscription_session_for_user(fake_stripe: FakeStripeApi, session_id: str) -> None:
    sent = fake_stripe.created_with[session_id]
    assert sent["mode"] == "subscription"
    assert sent["client_reference_id"] == USER
    assert sent["metadata"] == {"user_id": USER}
    assert sent["subscription_data"] == {"metadata": {"user_id": USER}}
    assert "payment_intent_data" not in sent  # Stripe refuses it in subscription mode


def test_a_pack_whose_catalog_price_is_recurring_makes_a_subscription_session_naming_the_user(
    stripe_app: TestClient, fake_stripe: FakeStripeApi, catalog: Path, database_url: str
) -> None:
    fake_stripe.add_price(PLAN, unit_amount=2000, interval="month")
    shop = plan_shop(stripe_app, catalog, "recurring = true")
    before = table_snapshot(database_url)

    response = create_checkout(shop, USER, pack="pro")

    assert response.status_code == 200, response.text
    assert response.json()["credits"] == 1000  # per period
    assert_subscription_session_for_user(fake_stripe, response.json()["id"])
    assert fake_stripe.created_with[response.json()["id"]]["line_items"] == [
        {"price": PLAN, "quantity": "1"}
    ]
    assert fake_stripe.requests == [SESSIONS]  # the catalog said recurring: Stripe not asked
    assert table_snapshot(database_url) == before


def test_a_rollover_price_is_a_plan_too(
    stripe_app: TestClient, fake_stripe: FakeStripeApi, catalog: Path
) -> None:
    fake_stripe.add_price(PLAN, interval="month")
    shop = plan_shop(stripe_app, catalog, "rollover = true")

    response = create_checkout(shop, USER, price_id=PLAN, quantity=2)

    assert response.json()["credits"] == 2000
    assert_subscription_session_for_user(fake_stripe, response.json()["id"])


def test_a_price_outside_the_catalog_is_a_plan_when_stripe_says_it_is_recurring(
    stripe_app: TestClient, fake_stripe: FakeStripeApi, catalog: Path
) -> None:
    fake_stripe.add_price("price_meta_plan", credits="300", interval="year")
    shop = plan_shop(stripe_app, catalog, "recurring = true")

    response = create_checkout(shop, USER, price_id="price_meta_plan")

    assert response.json()["credits"] == 300
    assert_subscription_session_for_user(fake_stripe, response.json()["id"])
    assert fake_stripe.requests == ["/v1/prices/price_meta_plan", SESSIONS]  # one look-up


def test_a_one_time_price_outside_the_catalog_still_makes_a_payment_session(
    stripe_app: TestClient, fake_stripe: FakeStripeApi, catalog: Path
) -> None:
    fake_stripe.add_price("price_once", credits="50")
    shop = plan_shop(stripe_app, catalog, "recurring = true")

    response = create_checkout(shop, USER, price_id="price_once")

    sent = fake_stripe.created_with[response.json()["id"]]
    assert sent["mode"] == "payment"
    assert sent["payment_intent_data"] == {"metadata": {"user_id": USER, "credits": "50"}}
    assert "subscription_data" not in sent


def test_a_recurring_price_the_catalog_does_not_mark_is_refused_by_stripe_with_its_reason(
    stripe_app: TestClient, fake_stripe: FakeStripeApi, catalog: Path
) -> None:
    fake_stripe.add_price(PLAN, interval="month")
    shop = plan_shop(stripe_app, catalog, "")

    response = create_checkout(shop, USER, pack="pro")

    assert error_of(response) == (422, "stripe_refused")
    assert "recurring price" in response.json()["error"]["message"]
    assert fake_stripe.sessions == {}
