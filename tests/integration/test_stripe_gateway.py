"""The Stripe gateway over real HTTP: the SDK client creditflow builds, and its errors translated.

Against the fake Stripe API (tests/fakes/stripe_api.py): the gateway reaches it through
`STRIPE_API_BASE` like it reaches Stripe, and each kind of failure arrives as creditflow's error.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from creditflow.adapters.stripe.client import Timeouts
from creditflow.adapters.stripe.gateway import StripeGateway
from creditflow.domain.checkout import SessionRequest
from creditflow.domain.credits import LineItem
from creditflow.errors import NotFound, StripeKeyRefused, StripeRefused, StripeUnavailable
from tests.fakes.stripe_api import FakeStripeApi
from tests.support import stripe_gateway

PRICE = "price_1PqXyZstarter"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def gateway(fake_stripe: FakeStripeApi) -> StripeGateway:
    fake_stripe.add_price(PRICE, unit_amount=500, credits="40")
    return stripe_gateway(fake_stripe.base_url, fake_stripe.api_key)


def order(price_id: str = PRICE) -> SessionRequest:
    return SessionRequest(
        user_id="user_7",
        price_id=price_id,
        quantity=2,
        credits=200,
        success_url="https://app.example.com/paid",
        cancel_url="https://app.example.com/shop",
    )


def test_a_created_session_reads_back_as_the_event_stripe_would_send_for_its_state(
    gateway: StripeGateway,
) -> None:
    created = gateway.create_checkout_session(order())

    snapshot = gateway.checkout_session(created.id, now=NOW)

    assert created.url is not None
    assert created.url.startswith("https://checkout.stripe.com/")
    assert (snapshot.checkout_session_id, snapshot.payment_intent_id) == (created.id, None)
    event = snapshot.event
    assert (event["type"], event["created"]) == ("checkout.session.completed", NOW.timestamp())
    session = event["data"]["object"]
    assert type(session) is dict
    assert (session["object"], session["id"], session["status"]) == (
        "checkout.session",
        created.id,
        "open",
    )
    assert session["metadata"] == {"user_id": "user_7", "credits": "200"}
    assert session["amount_total"] == 1000


def test_line_items_bring_each_prices_own_metadata_credits(
    gateway: StripeGateway, fake_stripe: FakeStripeApi
) -> None:
    fake_stripe.sell("cs_test_two_lines", (PRICE, 3), ("price_not_in_stripe", 1))

    assert gateway.line_items("cs_test_two_lines") == [
        LineItem(PRICE, 3, price_credits="40"),
        LineItem("price_not_in_stripe", 1, price_credits=None),
    ]


def test_a_prices_metadata_credits_are_read(gateway: StripeGateway) -> None:
    assert gateway.price_credits(PRICE) == "40"


def test_an_object_stripe_does_not_have_is_not_found(gateway: StripeGateway) -> None:
    with pytest.raises(NotFound, match=r"No such checkout\.session: 'cs_test_nope'"):
        gateway.checkout_session("cs_test_nope", now=NOW)
    with pytest.raises(NotFound, match="price_nope"):
        gateway.price_credits("price_nope")


def test_a_request_stripe_refuses_is_stripe_refused_naming_the_parameter(
    gateway: StripeGateway,
) -> None:
    with pytest.raises(StripeRefused, match="No such price: 'price_nope'") as refused:
        gateway.create_checkout_session(order("price_nope"))

    assert refused.value.details == {
        "stripe_code": "resource_missing",
        "param": "line_items[0][price]",
    }


def test_a_refused_key_is_its_own_error_and_never_shows_the_key(
    fake_stripe: FakeStripeApi,
) -> None:
    gateway = stripe_gateway(fake_stripe.base_url, "sk_test_wrong_but_secret")

    with pytest.raises(StripeKeyRefused, match="STRIPE_SECRET_KEY") as refused:
        gateway.checkout_session("cs_test_any", now=NOW)

    assert "wrong_but_secret" not in refused.value.message


def test_stripe_answering_500_is_unavailable(
    gateway: StripeGateway, fake_stripe: FakeStripeApi
) -> None:
    fake_stripe.failing = True

    with pytest.raises(StripeUnavailable, match="Stripe API unavailable"):
        gateway.line_items("cs_test_any")


def test_the_sdk_retries_a_failing_stripe_before_giving_up(fake_stripe: FakeStripeApi) -> None:
    gateway = stripe_gateway(fake_stripe.base_url, fake_stripe.api_key, retries=1)
    fake_stripe.failing = True

    with pytest.raises(StripeUnavailable):
        gateway.checkout_session("cs_test_any", now=NOW)

    assert fake_stripe.requests == ["/v1/checkout/sessions/cs_test_any"] * 2


def test_a_stripe_slower_than_the_read_timeout_is_unavailable_after_the_timeout(
    fake_stripe: FakeStripeApi,
) -> None:
    gateway = stripe_gateway(
        fake_stripe.base_url, fake_stripe.api_key, timeouts=Timeouts(connect=1, read=0.1)
    )
    fake_stripe.delay_seconds = 0.8

    started = time.monotonic()
    with pytest.raises(StripeUnavailable):
        gateway.checkout_session("cs_test_any", now=NOW)

    assert time.monotonic() - started < 0.6


def test_nothing_listens_at_the_api_base_is_unavailable() -> None:
    gateway = stripe_gateway("http://127.0.0.1:9", "sk_test_any")  # discard port: refused

    with pytest.raises(StripeUnavailable):
        gateway.check_key()
