"""POST /v1/checkout-sessions/{id}/fulfil: the success page's call grants like the webhook, once.

Sessions are created through creditflow's own API in the fake Stripe (tests/fakes/stripe_api.py),
paid there, then fulfilled and/or delivered as webhooks built from the very same session object,
in every order. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from creditflow.adapters.stripe import samples
from creditflow.adapters.stripe.events import StripeEventInterpreter
from tests.fakes.stripe_api import FakeStripeApi
from tests.servers import all_at_once
from tests.support import (
    api_get,
    balance,
    catalog_toml,
    create_checkout,
    deliver,
    error_of,
    fulfil,
    ledger,
    purchases,
    register,
    replay,
)

USER = "user_7"
PRICE = "price_1PqXyZstarter"


@pytest.fixture
def shop(stripe_app: TestClient, fake_stripe: FakeStripeApi, catalog: Path) -> TestClient:
    fake_stripe.add_price(PRICE, unit_amount=500)
    catalog.write_text(catalog_toml(prices={PRICE: 100}, packs={"starter": PRICE}))
    register(stripe_app, USER)
    return stripe_app


def checkout(client: httpx.Client) -> str:
    """A session for the starter pack, made through creditflow's API; its id."""
    response = create_checkout(client, USER, pack="starter")
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def completed_event(session: dict[str, Any]) -> dict[str, Any]:
    return samples.event("checkout.session.completed", dict(session))


def granted(client: httpx.Client) -> list[int]:
    return [entry["delta"] for entry in ledger(client, USER)]


def test_fulfilling_a_paid_session_grants_its_credits_and_says_so(
    shop: TestClient, fake_stripe: FakeStripeApi
) -> None:
    session_id = checkout(shop)
    fake_stripe.pay(session_id)

    response = fulfil(shop, session_id)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["checkout_session_id"], body["status"], body["credits"]) == (
        session_id,
        "paid",
        100,
    )
    assert (body["user_id"], body["outcome"], body["error"]) == (USER, "processed", None)
    assert balance(shop, USER) == 100
    stored = api_get(shop, f"/v1/events/{body['event_id']}")
    assert (stored["type"], stored["endpoint"]) == (
        "checkout.session.completed",
        "/v1/checkout-sessions/{id}/fulfil",
    )


def test_fulfilling_twice_grants_once(shop: TestClient, fake_stripe: FakeStripeApi) -> None:
    session_id = checkout(shop)
    fake_stripe.pay(session_id)

    first, second = fulfil(shop, session_id), fulfil(shop, session_id)

    assert [first.json()["outcome"], second.json()["outcome"]] == ["processed", "duplicate"]
    assert second.json()["status"] == "paid"
    assert granted(shop) == [100]


def test_fulfil_then_the_webhook_grants_once(shop: TestClient, fake_stripe: FakeStripeApi) -> None:
    session_id = checkout(shop)
    session = fake_stripe.pay(session_id)

    fulfil(shop, session_id)
    late = deliver(shop, completed_event(session))

    assert late.json()["status"] == "duplicate"
    assert granted(shop) == [100]


def test_the_webhook_then_fulfil_grants_once(shop: TestClient, fake_stripe: FakeStripeApi) -> None:
    session_id = checkout(shop)
    session = fake_stripe.pay(session_id)

    assert deliver(shop, completed_event(session)).json()["status"] == "processed"
    response = fulfil(shop, session_id)

    assert (response.json()["status"], response.json()["credits"]) == ("paid", 100)
    assert response.json()["outcome"] == "duplicate"
    assert granted(shop) == [100]


def test_the_payment_intents_own_event_fulfil_and_the_session_event_grant_once(
    shop: TestClient, fake_stripe: FakeStripeApi
) -> None:
    """`payment_intent_data.metadata` makes the PaymentIntent's event creditable on its own."""
    session_id = checkout(shop)
    session = fake_stripe.pay(session_id)
    intent_event = samples.event("payment_intent.succeeded", fake_stripe.payment_intent(session_id))

    outcomes = [
        deliver(shop, intent_event).json()["status"],
        fulfil(shop, session_id).json()["outcome"],
        deliver(shop, completed_event(session)).json()["status"],
    ]

    # The fulfil grants nothing more; it only links the session to the PaymentIntent's purchase.
    assert outcomes == ["processed", "processed", "duplicate"]
    assert granted(shop) == [100]
    [purchase] = purchases(shop, USER)
    assert (purchase["checkout_session_id"], purchase["payment_intent_id"]) == (
        session_id,
        session["payment_intent"],
    )


@pytest.mark.parametrize("state", ["open", "completed with a delayed payment method"])
def test_fulfilling_a_session_not_yet_paid_records_it_awaiting_payment(
    shop: TestClient, fake_stripe: FakeStripeApi, state: str
) -> None:
    session_id = checkout(shop)
    if state != "open":
        fake_stripe.complete_unpaid(session_id)

    response = fulfil(shop, session_id)

    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["credits"]) == ("awaiting_payment", None)
    assert balance(shop, USER) == 0


def test_a_session_paid_after_an_unpaid_fulfil_is_granted_by_the_next_fulfil_once(
    shop: TestClient, fake_stripe: FakeStripeApi
) -> None:
    session_id = checkout(shop)
    fake_stripe.complete_unpaid(session_id)
    fulfil(shop, session_id)
    session = fake_stripe.pay(session_id)  # the bank transfer arrived

    response = fulfil(shop, session_id)
    late = deliver(shop, samples.event("checkout.session.async_payment_succeeded", session))

    assert (response.json()["status"], response.json()["outcome"]) == ("paid", "processed")
    assert late.json()["status"] == "duplicate"
    assert granted(shop) == [100]


def test_fulfilling_an_expired_session_records_it_expired(
    shop: TestClient, fake_stripe: FakeStripeApi
) -> None:
    session_id = checkout(shop)
    fake_stripe.expire(session_id)

    assert fulfil(shop, session_id).json()["status"] == "expired"
    assert balance(shop, USER) == 0


def test_a_paid_session_no_rule_prices_is_parked_and_a_replay_grants_once_fixed(
    shop: TestClient, fake_stripe: FakeStripeApi, catalog: Path
) -> None:
    """A session made elsewhere (no metadata.credits) for a price only the fixed catalog knows."""
    fake_stripe.add_price("price_elsewhere")
    session_id = checkout(shop)
    session = fake_stripe.pay(session_id)
    session["metadata"] = {}
    fake_stripe.sell(session_id, ("price_elsewhere", 2))

    parked = fulfil(shop, session_id)
    catalog.write_text(catalog_toml(prices={PRICE: 100, "price_elsewhere": 30}))
    replayed = replay(shop, parked.json()["event_id"])

    assert parked.status_code == 200, parked.text
    assert (parked.json()["status"], parked.json()["credits"]) == ("needs_attention", None)
    assert "price_elsewhere" in parked.json()["error"]
    assert replayed["status"] == "processed"
    assert granted(shop) == [60]


def test_a_paid_session_without_metadata_is_priced_by_its_prices_metadata(
    shop: TestClient, fake_stripe: FakeStripeApi
) -> None:
    fake_stripe.add_price("price_meta", credits="25")
    session_id = checkout(shop)
    fake_stripe.pay(session_id)["metadata"] = {}
    fake_stripe.sell(session_id, ("price_meta", 4))

    assert fulfil(shop, session_id).json()["credits"] == 100
    assert granted(shop) == [100]


def test_a_session_that_crashes_processing_is_500_stored_and_processed_by_the_next_fulfil(
    shop: TestClient, fake_stripe: FakeStripeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = checkout(shop)
    fake_stripe.pay(session_id)
    interpret = StripeEventInterpreter.interpret

    def crash(_self: StripeEventInterpreter, _event: object) -> NoReturn:
        raise AttributeError("a bug meeting an input nobody foresaw")

    monkeypatch.setattr(StripeEventInterpreter, "interpret", crash)
    crashed = fulfil(shop, session_id)
    monkeypatch.setattr(StripeEventInterpreter, "interpret", interpret)  # the fixed release
    retried = fulfil(shop, session_id)

    assert error_of(crashed) == (500, "processing_failed")
    assert "nobody foresaw" not in crashed.text
    assert (retried.json()["status"], retried.json()["outcome"]) == ("paid", "processed")
    assert granted(shop) == [100]


def test_fulfilling_a_session_stripe_does_not_have_is_404(shop: TestClient) -> None:
    assert error_of(fulfil(shop, "cs_test_nope")) == (404, "not_found")


def test_without_a_stripe_key_fulfilling_is_503_naming_the_setting(client: TestClient) -> None:
    response = fulfil(client, "cs_test_any")

    assert error_of(response) == (503, "not_configured")
    assert "STRIPE_SECRET_KEY" in response.json()["error"]["message"]


def test_stripe_down_is_503_and_a_later_fulfil_grants(
    shop: TestClient, fake_stripe: FakeStripeApi
) -> None:
    session_id = checkout(shop)
    fake_stripe.pay(session_id)
    fake_stripe.failing = True

    assert error_of(fulfil(shop, session_id)) == (503, "stripe_unavailable")
    fake_stripe.failing = False

    assert fulfil(shop, session_id).json()["status"] == "paid"
    assert granted(shop) == [100]


def test_fulfils_and_webhooks_all_at_once_grant_once(
    live_server_for: Callable[..., str], fake_stripe: FakeStripeApi, catalog: Path
) -> None:
    """Real concurrency: a uvicorn server, requests released together from a barrier."""
    fake_stripe.add_price(PRICE, unit_amount=500)
    catalog.write_text(catalog_toml(prices={PRICE: 100}, packs={"starter": PRICE}))
    url = live_server_for(
        catalog_path=catalog,
        stripe_secret_key=SecretStr(fake_stripe.api_key),
        stripe_api_base=fake_stripe.base_url,
    )
    with httpx.Client(base_url=url, timeout=60) as client:
        register(client, USER)
        session_id = checkout(client)
    session = fake_stripe.pay(session_id)
    events = [completed_event(session)] * 4 + [
        samples.event("payment_intent.succeeded", fake_stripe.payment_intent(session_id))
    ] * 4

    def fulfil_at(_: int) -> str:
        with httpx.Client(base_url=url, timeout=60) as client:
            return str(fulfil(client, session_id).json()["outcome"])

    def deliver_at(event: dict[str, Any]) -> str:
        with httpx.Client(base_url=url, timeout=60) as client:
            return str(deliver(client, event).json()["status"])

    outcomes = all_at_once(
        [partial(fulfil_at, index) for index in range(8)]
        + [partial(deliver_at, event) for event in events]
    )

    # Several can say "processed": one grants, another may link the session to the purchase.
    assert set(outcomes) <= {"processed", "duplicate"}
    assert len(outcomes) == 16
    with httpx.Client(base_url=url, timeout=60) as client:
        assert granted(client) == [100]
