"""How many credits: metadata, else the TOML catalog priced from line items read from Stripe.

When no rule gives a number the event is parked as `needs_attention` with the reason, nothing
is granted; once the operator fixes the catalog, `POST /v1/events/{id}/replay` grants, once.
Line items come from a fake Stripe API on a real port (tests/fakes/stripe_api.py), reached
through the real SDK client.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from creditflow.adapters.stripe.events import StripeEventInterpreter
from tests.conftest import ClientFactory
from tests.fakes.stripe_api import FakeStripeApi
from tests.support import (
    PRICE,
    api_get,
    auth,
    balance,
    catalog_toml,
    deliver,
    derived_event,
    error_of,
    ledger,
    paid_without_credits,
    purchases,
    register,
    replay,
    session_id_of,
    stored_event,
)

USER = "user_42"  # client_reference_id of the derived fixtures
LINK = "plink_1Pgc78B7WZ01zgkWC75kX0jg"  # the payment link of the derived Payment Link body


@pytest.fixture
def stripe_client(stripe_app: TestClient) -> TestClient:
    register(stripe_app, USER, "example@example.com")
    return stripe_app


def test_a_session_no_rule_prices_is_parked_as_needs_attention_with_the_reason(
    client: TestClient,
) -> None:
    register(client, USER)
    event = paid_without_credits()

    response = deliver(client, event)

    assert response.status_code == 200
    assert response.json()["status"] == "needs_attention"
    assert "metadata.credits" in response.json()["error"]
    [parked] = api_get(client, "/v1/events", status="needs_attention")["events"]
    assert parked["id"] == event["id"]
    assert "CREDITFLOW_CATALOG" in parked["error"]
    assert balance(client, USER) == 0
    assert purchases(client) == []


def test_a_redelivery_of_a_parked_event_does_not_grant_by_itself(client: TestClient) -> None:
    register(client, USER)
    event = paid_without_credits()
    deliver(client, event)

    again = deliver(client, event)

    assert again.json()["status"] == "duplicate"
    assert stored_event(client, event["id"])["status"] == "needs_attention"
    assert balance(client, USER) == 0


@pytest.mark.parametrize("credits", ["10.5", "-3", "ten", "0"])
def test_metadata_credits_that_are_not_a_whole_positive_number_are_parked_not_rounded(
    client: TestClient, credits: str
) -> None:
    register(client, USER)

    response = deliver(
        client, derived_event("checkout_session_completed_paid.json", metadata={"credits": credits})
    )

    assert response.json()["status"] == "needs_attention"
    assert repr(credits) in response.json()["error"]
    assert balance(client, USER) == 0


def test_metadata_credits_with_a_non_decimal_digit_are_parked_as_needs_attention(
    client_for: ClientFactory,
) -> None:
    client = client_for(raise_server_exceptions=False)
    register(client, USER)
    event = derived_event("checkout_session_completed_paid.json", metadata={"credits": "²"})

    response = deliver(client, event)

    assert stored_event(client, event["id"])["status"] == "needs_attention"
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("credits", ["99999999999999999999", str(2**63)])
def test_metadata_credits_too_large_to_store_are_parked_as_needs_attention(
    client_for: ClientFactory, credits: str
) -> None:
    client = client_for(raise_server_exceptions=False)
    register(client, USER)
    event = derived_event("checkout_session_completed_paid.json", metadata={"credits": credits})

    response = deliver(client, event)

    assert balance(client, USER) == 0
    assert purchases(client) == []
    assert stored_event(client, event["id"])["status"] == "needs_attention"
    assert response.status_code == 200, response.text


def test_fixing_the_catalog_then_replaying_grants_once_and_replaying_again_grants_nothing(
    stripe_client: TestClient, fake_stripe: FakeStripeApi, catalog: Path
) -> None:
    event = paid_without_credits()
    fake_stripe.sell(session_id_of(event), (PRICE, 2))
    assert deliver(stripe_client, event).json()["status"] == "needs_attention"
    assert replay(stripe_client, event["id"])["status"] == "needs_attention"  # not fixed yet
    assert balance(stripe_client, USER) == 0

    catalog.write_text(catalog_toml(prices={PRICE: 100}))
    first = replay(stripe_client, event["id"])
    second = replay(stripe_client, event["id"])

    assert (first["status"], first["error"]) == ("processed", None)
    assert second["status"] == "duplicate"
    assert balance(stripe_client, USER) == 200
    assert [entry["delta"] for entry in ledger(stripe_client, USER)] == [200]
    assert deliver(stripe_client, event).json()["status"] == "duplicate"
    assert balance(stripe_client, USER) == 200


def test_replaying_a_processed_event_keeps_its_recorded_outcome(
    client: TestClient,
) -> None:
    register(client, USER)
    event = derived_event("checkout_session_completed_paid.json", metadata={"credits": "5"})
    deliver(client, event)

    result = replay(client, event["id"])

    assert result["status"] == "duplicate"  # the replay itself changed nothing
    assert balance(client, USER) == 5
    assert stored_event(client, event["id"])["status"] == "processed"


def test_a_catalog_broken_while_running_neither_loses_deliveries_nor_blocks_metadata_pricing(
    client_for: ClientFactory, catalog: Path
) -> None:
    client = client_for(catalog_path=catalog, raise_server_exceptions=False)
    register(client, USER)
    catalog.write_text("[prices.price_typo]\ncredits = 'ten'\n")  # an operator's typo
    event = derived_event("checkout_session_completed_paid.json", metadata={"credits": "5"})

    response = deliver(client, event)

    stored = client.get(f"/v1/events/{event['id']}", headers=auth())
    assert stored.status_code == 200, "a verified delivery must be stored before processing"
    assert (response.status_code, stored.json()["status"]) == (200, "processed")
    assert balance(client, USER) == 5


def test_replaying_an_unknown_event_is_a_404(client: TestClient) -> None:
    response = client.post("/v1/events/evt_unknown/replay", headers=auth())

    assert error_of(response) == (404, "not_found")


def test_a_catalog_price_bought_three_times_grants_three_times_its_credits(
    stripe_client: TestClient, fake_stripe: FakeStripeApi, catalog: Path
) -> None:
    catalog.write_text(catalog_toml(prices={PRICE: 100, "price_other": 1}))
    event = paid_without_credits()
    fake_stripe.sell(session_id_of(event), (PRICE, 3))

    response = deliver(stripe_client, event)

    assert response.json()["status"] == "processed"
    assert balance(stripe_client, USER) == 300
    assert purchases(stripe_client, USER)[0]["credits"] == 300
    assert fake_stripe.requests == [f"/v1/checkout/sessions/{session_id_of(event)}/line_items"]


def test_several_catalog_prices_in_one_session_add_up(
    stripe_client: TestClient, fake_stripe: FakeStripeApi, catalog: Path
) -> None:
    catalog.write_text(catalog_toml(prices={PRICE: 100, "price_small": 7}))
    event = paid_without_credits()
    fake_stripe.sell(session_id_of(event), (PRICE, 1), ("price_small", 4))

    deliver(stripe_client, event)

    assert balance(stripe_client, USER) == 128


def test_a_payment_link_in_the_catalog_grants_its_credits_times_the_quantity(
    stripe_client: TestClient, fake_stripe: FakeStripeApi, catalog: Path
) -> None:
    catalog.write_text(catalog_toml(links={LINK: 500}))
    event = derived_event("checkout_session_completed_payment_link.json", metadata={})
    fake_stripe.sell(session_id_of(event), ("price_not_in_the_catalog", 2))

    response = deliver(stripe_client, event)  # buyer found by e-mail: example@example.com

    assert response.json()["status"] == "processed"
    assert balance(stripe_client, USER) == 1000


def test_metadata_credits_win_over_the_catalog_without_asking_stripe(
    stripe_client: TestClient, fake_stripe: FakeStripeApi, catalog: Path
) -> None:
    catalog.write_text(catalog_toml(prices={PRICE: 100}))

    deliver(
        stripe_client,
        derived_event("checkout_session_completed_paid.json", metadata={"credits": "42"}),
    )

    assert balance(stripe_client, USER) == 42
    assert fake_stripe.requests == []


def test_a_price_missing_from_the_catalog_parks_the_event_naming_the_price(
    stripe_client: TestClient, fake_stripe: FakeStripeApi, catalog: Path
) -> None:
    catalog.write_text(catalog_toml(prices={"price_other": 100}))
    event = paid_without_credits()
    fake_stripe.sell(session_id_of(event), (PRICE, 1))

    response = deliver(stripe_client, event)

    assert response.json()["status"] == "needs_attention"
    assert PRICE in response.json()["error"]
    assert PRICE in stored_event(stripe_client, event["id"])["error"]
    assert balance(stripe_client, USER) == 0
    assert purchases(stripe_client) == []


def test_a_price_missing_from_the_catalog_is_priced_by_its_own_metadata_credits(
    stripe_client: TestClient, fake_stripe: FakeStripeApi, catalog: Path
) -> None:
    """DESIGN's third rule: the price's metadata.credits, read through Stripe's API."""
    catalog.write_text(catalog_toml(prices={"price_other": 1}))
    fake_stripe.add_price(PRICE, credits="70")
    event = paid_without_credits()
    fake_stripe.sell(session_id_of(event), (PRICE, 2))

    response = deliver(stripe_client, event)

    assert response.json()["status"] == "processed"
    assert balance(stripe_client, USER) == 140


def test_with_a_stripe_key_and_no_catalog_the_prices_metadata_credits_still_price_a_session(
    client_for: ClientFactory, fake_stripe: FakeStripeApi
) -> None:
    client = client_for(
        stripe_secret_key=SecretStr(fake_stripe.api_key), stripe_api_base=fake_stripe.base_url
    )
    register(client, USER)
    fake_stripe.add_price(PRICE, credits="70")
    event = paid_without_credits()
    fake_stripe.sell(session_id_of(event), (PRICE, 1))

    assert deliver(client, event).json()["status"] == "processed"
    assert balance(client, USER) == 70


def test_a_stripe_key_stripe_refuses_parks_the_event_saying_so(
    client_for: ClientFactory, fake_stripe: FakeStripeApi
) -> None:
    client = client_for(
        stripe_secret_key=SecretStr("sk_test_revoked"), stripe_api_base=fake_stripe.base_url
    )
    register(client, USER)

    response = deliver(client, paid_without_credits())

    assert response.json()["status"] == "needs_attention"
    assert "STRIPE_SECRET_KEY" in response.json()["error"]


def test_stripe_failing_stores_the_event_as_failed_and_a_redelivery_after_it_recovers_grants(
    stripe_client: TestClient, fake_stripe: FakeStripeApi, catalog: Path
) -> None:
    catalog.write_text(catalog_toml(prices={PRICE: 100}))
    event = paid_without_credits()
    fake_stripe.sell(session_id_of(event), (PRICE, 1))
    fake_stripe.failing = True

    refused = deliver(stripe_client, event)

    assert refused.status_code in (500, 503)  # Stripe retries the delivery later
    stored = stored_event(stripe_client, event["id"])
    assert stored["status"] == "failed"
    assert "Stripe" in stored["error"]
    assert balance(stripe_client, USER) == 0
    assert purchases(stripe_client) == []

    fake_stripe.failing = False
    retried = deliver(stripe_client, event)
    again = deliver(stripe_client, event)

    assert (retried.status_code, retried.json()["status"]) == (200, "processed")
    assert again.json()["status"] == "duplicate"
    assert balance(stripe_client, USER) == 100
    assert stored_event(stripe_client, event["id"])["delivery_count"] == 3


def test_a_catalog_file_missing_at_start_parks_what_needs_it_until_it_appears(
    client_for: ClientFactory, tmp_path: Path
) -> None:
    path = tmp_path / "not-yet-written.toml"
    client = client_for(catalog_path=path)  # the service starts: deliveries must not bounce
    register(client, USER)
    needs_catalog = paid_without_credits()
    priced_by_metadata = derived_event(
        "checkout_session_completed_paid.json",
        event_id="evt_priced_by_metadata",
        id="cs_test_priced_by_metadata",
        payment_intent="pi_priced_by_metadata",
        metadata={"credits": "5"},
    )

    parked = deliver(client, needs_catalog).json()
    processed = deliver(client, priced_by_metadata).json()

    assert (parked["status"], processed["status"]) == ("needs_attention", "processed")
    assert f"catalog {path} cannot be read" in parked["error"]
    assert balance(client, USER) == 5
    path.write_text(catalog_toml(links={"plink_unused": 1}))
    replayed = replay(client, needs_catalog["id"])  # read now, though it prices nothing here
    assert (replayed["status"], "cannot be read" in replayed["error"]) == ("needs_attention", False)
    assert balance(client, USER) == 5


def test_an_event_the_interpreter_cannot_read_is_stored_as_failed_without_echoing_internals(
    client_for: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug meeting an input nobody foresaw (fields Stripe never sends are parked instead)."""

    def crash(_self: StripeEventInterpreter, _event: object) -> NoReturn:
        raise AttributeError("'str' object has no attribute 'get'")

    monkeypatch.setattr(StripeEventInterpreter, "interpret", crash)
    client = client_for(raise_server_exceptions=False)
    register(client, USER)
    event = derived_event("checkout_session_completed_paid.json")

    response = deliver(client, event)

    assert response.status_code == 500  # Stripe retries; a fixed release then processes it
    assert "Error" not in response.json()["error"]
    stored = stored_event(client, event["id"])
    assert stored["status"] == "failed"
    assert "AttributeError" in stored["error"]  # what operators need, behind the API key
    assert balance(client, USER) == 0
