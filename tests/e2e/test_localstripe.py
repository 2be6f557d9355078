"""Against localstripe: a stateful Stripe stand-in in its own process, reached through the SDK.

A PaymentIntent is created and confirmed in localstripe; localstripe itself signs its
`payment_intent.succeeded` and delivers it to a running creditflow (uvicorn on a real port), which
credits it once. Events and refunds are then listed from localstripe through creditflow's own
gateway, as reconciling missed events will. localstripe has no Checkout Sessions, line items or
prices: those are tested against tests/fakes/stripe_api.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import stripe

from creditflow.adapters.stripe import samples
from creditflow.adapters.stripe.client import make_client
from creditflow.adapters.stripe.gateway import StripeGateway
from creditflow.errors import StripeKeyRefused
from creditflow.settings import WEBHOOK_PATH
from tests import support
from tests.support import (
    WEBHOOK_SECRET,
    balance,
    deliver,
    ledger,
    register,
    stored_event,
    stripe_gateway,
)

KEY = "sk_test_localstripe_0123456789"  # localstripe accepts any sk_ key
USER = "user_ls"
DELIVERY_DEADLINE_SECONDS = 15  # localstripe waits 1 s before sending each webhook

pytestmark = pytest.mark.slow


@pytest.fixture
def sdk(localstripe: str) -> stripe.StripeClient:
    """The buyer's side: the same SDK client creditflow builds, pointed at localstripe."""
    return make_client(KEY, localstripe)


@pytest.fixture
def gateway(localstripe: str) -> StripeGateway:
    return stripe_gateway(localstripe, KEY)


@pytest.fixture
def creditflow(live_server: str, localstripe: str) -> Iterator[httpx.Client]:
    """A running creditflow, registered in localstripe as the endpoint for PaymentIntent events."""
    registered = httpx.post(
        f"{localstripe}/_config/webhooks/creditflow",
        json={
            "url": f"{live_server}{WEBHOOK_PATH}",
            "secret": WEBHOOK_SECRET,
            "events": ["payment_intent.succeeded", "payment_intent.payment_failed"],
        },
    )
    assert registered.status_code == 200, registered.text
    with httpx.Client(base_url=live_server, timeout=30) as client:
        register(client, USER)
        yield client


def confirmed_payment(sdk: stripe.StripeClient, *, credits: int, amount: int = 1000) -> str:
    return support.confirmed_payment(sdk, user_id=USER, credits=credits, amount=amount)


def wait_for_balance(client: httpx.Client, expected: int) -> None:
    deadline = time.monotonic() + DELIVERY_DEADLINE_SECONDS
    while balance(client, USER) != expected:
        assert time.monotonic() < deadline, f"no webhook credited {expected} credits in time"
        time.sleep(0.1)


def test_a_confirmed_payment_intent_is_credited_once_through_localstripes_own_webhook(
    creditflow: httpx.Client, sdk: stripe.StripeClient, gateway: StripeGateway
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    intent_id = confirmed_payment(sdk, credits=100)

    wait_for_balance(creditflow, 100)

    [event] = [
        event
        for event in gateway.events(["payment_intent.succeeded"], since=since)
        if event["data"]["object"]["id"] == intent_id
    ]
    stored = stored_event(creditflow, event["id"])
    assert (stored["status"], stored["endpoint"], stored["delivery_count"]) == (
        "processed",
        WEBHOOK_PATH,
        1,
    )
    again = deliver(creditflow, event)  # the listed event, as reconcile would hand it over
    assert again.json()["status"] == "duplicate"
    assert [entry["delta"] for entry in ledger(creditflow, USER)] == [100]


def test_refunds_are_listed_from_localstripe_and_take_their_share_of_credits_back(
    creditflow: httpx.Client, sdk: stripe.StripeClient, gateway: StripeGateway
) -> None:
    intent_id = confirmed_payment(sdk, credits=100, amount=1000)
    wait_for_balance(creditflow, 100)
    sdk.v1.refunds.create(params={"payment_intent": intent_id, "amount": 300})

    [refund] = gateway.refunds(intent_id)

    assert (refund["object"], refund["amount"], refund["status"]) == ("refund", 300, "succeeded")
    assert refund["payment_intent"] == intent_id
    # localstripe sends no refund webhooks; the listed refund goes through the normal path.
    assert deliver(creditflow, samples.event("refund.created", refund)).status_code == 200
    assert balance(creditflow, USER) == 70


def test_the_key_check_passes_for_a_key_localstripe_takes_and_refuses_one_it_does_not(
    localstripe: str,
) -> None:
    stripe_gateway(localstripe, KEY).check_key()

    with pytest.raises(StripeKeyRefused, match="STRIPE_SECRET_KEY"):
        stripe_gateway(localstripe, "pk_test_not_a_secret_key").check_key()
