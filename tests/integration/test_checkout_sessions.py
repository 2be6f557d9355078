"""POST /v1/checkout-sessions: a Checkout Session that names its user and credits everywhere.

Stripe is the fake API on a real port (tests/fakes/stripe_api.py), reached through the SDK; what
creditflow sent is read back from it. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.conftest import ClientFactory
from tests.fakes.stripe_api import FakeStripeApi
from tests.support import (
    catalog_toml,
    create_checkout,
    error_of,
    register,
    table_snapshot,
)

USER = "user_7"
PRICE = "price_1PqXyZstarter"
SESSIONS = "/v1/checkout/sessions"


@pytest.fixture
def shop(stripe_app: TestClient, fake_stripe: FakeStripeApi, catalog: Path) -> TestClient:
    """A catalog selling the "starter" pack (100 credits a unit) and a registered user."""
    fake_stripe.add_price(PRICE, unit_amount=500)
    catalog.write_text(catalog_toml(prices={PRICE: 100}, packs={"starter": PRICE}))
    register(stripe_app, USER, "ada@example.com")
    return stripe_app


def test_a_pack_bought_three_times_makes_a_payment_session_naming_user_and_credits_everywhere(
    shop: TestClient, fake_stripe: FakeStripeApi
) -> None:
    response = create_checkout(shop, USER, pack="starter", quantity=3)

    assert response.status_code == 200, response.text
    created = response.json()
    assert created["credits"] == 300
    assert created["url"] == f"https://checkout.stripe.com/c/pay/{created['id']}"
    sent = fake_stripe.created_with[created["id"]]
    metadata = {"user_id": USER, "credits": "300"}
    assert sent["mode"] == "payment"
    assert sent["line_items"] == [{"price": PRICE, "quantity": "3"}]
    assert sent["client_reference_id"] == USER
    assert sent["metadata"] == metadata
    assert sent["payment_intent_data"] == {"metadata": metadata}
    assert sent["success_url"] == "https://app.example.com/paid?session_id={CHECKOUT_SESSION_ID}"
    session = fake_stripe.sessions[created["id"]]
    assert (session["client_reference_id"], session["metadata"]) == (USER, metadata)
    assert session["amount_total"] == 1500


def test_a_catalog_price_can_be_bought_by_its_id(
    shop: TestClient, fake_stripe: FakeStripeApi
) -> None:
    response = create_checkout(shop, USER, price_id=PRICE)

    assert response.json()["credits"] == 100
    assert fake_stripe.requests == [SESSIONS]  # the catalog priced it: no need to ask Stripe


def test_a_price_missing_from_the_catalog_is_priced_by_its_own_metadata_credits(
    shop: TestClient, fake_stripe: FakeStripeApi
) -> None:
    fake_stripe.add_price("price_meta", credits="40")

    response = create_checkout(shop, USER, price_id="price_meta", quantity=2)

    assert response.json()["credits"] == 80
    assert fake_stripe.created_with[response.json()["id"]]["metadata"]["credits"] == "80"
    assert fake_stripe.requests == ["/v1/prices/price_meta", SESSIONS]


def test_creating_a_session_writes_nothing_to_the_database(
    shop: TestClient, database_url: str
) -> None:
    before = table_snapshot(database_url)

    assert create_checkout(shop, USER, pack="starter").status_code == 200

    assert table_snapshot(database_url) == before


def test_an_unknown_pack_is_422_naming_the_packs_there_are(
    shop: TestClient, fake_stripe: FakeStripeApi
) -> None:
    response = create_checkout(shop, USER, pack="mega")

    assert error_of(response) == (422, "invalid_request")
    assert "'mega'" in response.json()["error"]["message"]
    assert "starter" in response.json()["error"]["message"]
    assert fake_stripe.requests == []


def test_a_price_no_rule_prices_is_422_and_no_session_is_created(
    shop: TestClient, fake_stripe: FakeStripeApi
) -> None:
    fake_stripe.add_price("price_bare")

    response = create_checkout(shop, USER, price_id="price_bare")

    assert error_of(response) == (422, "invalid_request")
    assert "metadata.credits" in response.json()["error"]["message"]
    assert fake_stripe.sessions == {}


def test_a_price_stripe_does_not_know_is_422(shop: TestClient) -> None:
    response = create_checkout(shop, USER, price_id="price_nope")

    assert error_of(response) == (422, "invalid_request")
    assert "price_nope" in response.json()["error"]["message"]


def test_a_catalog_price_stripe_refuses_is_422_with_stripes_reason(
    shop: TestClient, catalog: Path
) -> None:
    catalog.write_text(catalog_toml(prices={"price_deleted": 10}))

    response = create_checkout(shop, USER, price_id="price_deleted")

    assert error_of(response) == (422, "stripe_refused")
    assert response.json()["error"]["param"] == "line_items[0][price]"


@pytest.mark.parametrize(
    "fields",
    [
        {"pack": "starter", "price_id": PRICE},
        {},
        {"pack": "starter", "quantity": 0},
        {"pack": "starter", "quantity": "2"},
        {"pack": "starter", "success_url": "javascript:alert(1)"},
        {"price_id": ""},
        {"price_id": "price_1/../customers"},
        {"pack": ""},
    ],
    ids=[
        "price and pack",
        "neither",
        "quantity 0",
        "quantity as text",
        "not a web URL",
        "empty price id",  # found by the stateful contract test: read Stripe's price list, 503
        "not a Stripe id",
        "empty pack",
    ],
)
def test_a_malformed_request_is_422_and_reaches_no_stripe(
    shop: TestClient, fake_stripe: FakeStripeApi, fields: dict[str, object]
) -> None:
    response = create_checkout(shop, USER, **fields)

    assert error_of(response) == (422, "invalid_request")
    assert fake_stripe.requests == []


def test_an_unknown_user_is_404_and_no_session_is_created(
    shop: TestClient, fake_stripe: FakeStripeApi
) -> None:
    response = create_checkout(shop, "user_nobody", pack="starter")

    assert error_of(response) == (404, "not_found")
    assert fake_stripe.sessions == {}


def test_without_a_stripe_key_creating_is_503_naming_the_setting(client: TestClient) -> None:
    register(client, USER)

    response = create_checkout(client, USER, price_id=PRICE)

    assert error_of(response) == (503, "not_configured")
    assert "STRIPE_SECRET_KEY" in response.json()["error"]["message"]


def test_a_key_stripe_refuses_is_503_saying_so(
    client_for: ClientFactory, fake_stripe: FakeStripeApi, catalog: Path
) -> None:
    catalog.write_text(catalog_toml(prices={PRICE: 100}))
    client = client_for(
        catalog_path=catalog,
        stripe_secret_key=SecretStr("sk_test_revoked"),
        stripe_api_base=fake_stripe.base_url,
    )
    register(client, USER)

    response = create_checkout(client, USER, price_id=PRICE)

    assert error_of(response) == (503, "stripe_key_refused")
    assert "STRIPE_SECRET_KEY" in response.json()["error"]["message"]


def test_stripe_down_is_503_stripe_unavailable(
    shop: TestClient, fake_stripe: FakeStripeApi
) -> None:
    fake_stripe.failing = True

    response = create_checkout(shop, USER, pack="starter")

    assert error_of(response) == (503, "stripe_unavailable")
