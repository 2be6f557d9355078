"""Hostile deliveries: replays, bodies built to break a parser, and fields Stripe never sends.

Adds to test_bad_input.py (forged and tampered signatures, sizes, bodies that are not events).
A request that is not a genuine delivery is refused with a 4xx and changes no table. A correctly
signed event carrying what Stripe never sends (an amount as a string, an id no column can hold) is
stored and parked as `needs_attention` with a 200: no table but the inbox changes, and it is never
a 500, which Stripe would retry for days to no avail.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
import stripe
from fastapi.testclient import TestClient

from creditflow.adapters.strict_json import MAX_NESTING
from creditflow.adapters.stripe import samples
from creditflow.settings import MAX_WEBHOOK_BODY_BYTES, WEBHOOK_PATH
from tests.conftest import ClientFactory
from tests.support import (
    assert_refused,
    balance,
    buy,
    deliver,
    error_of,
    money_back_event,
    paid_session_event,
    payment_intent_event,
    post_webhook,
    register,
    register_and_buy,
    sign_bytes,
    stored_event,
    table_snapshot,
)

USER = "user_1"
TOLERANCE = 300  # the default CREDITFLOW_WEBHOOK_TOLERANCE


@pytest.fixture
def client(client_for: ClientFactory) -> TestClient:
    """A crash is answered 500, as a real server would, so it fails on status, not by raising."""
    return client_for(raise_server_exceptions=False)


def signed(body: bytes) -> dict[str, str]:
    return {"Stripe-Signature": sign_bytes(body)}


def assert_parked(
    client: TestClient, database_url: str, event: dict[str, Any], status: str = "needs_attention"
) -> str:
    """Deliver a signed `event`: 200 `status`, stored in the inbox, nothing else changed.

    Returns the reason the inbox records, for the test to check it names the field.
    """
    before = table_snapshot(database_url)
    response = deliver(client, event)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status, response.text
    after = table_snapshot(database_url)
    inbox_before, inbox_after = before.pop("webhook_events"), after.pop("webhook_events")
    assert after == before
    assert len(inbox_after) == len(inbox_before) + 1
    stored = stored_event(client, event["id"])
    assert stored["status"] == status
    return str(stored["error"])


def paid_checkout(**session: Any) -> dict[str, Any]:
    """A paid checkout for `USER` worth 100 credits, with fields of its session replaced."""
    event = paid_session_event(user_id=USER, credits=100)
    event["data"]["object"].update(session)
    return event


# Replays -----------------------------------------------------------------------------------


def test_a_captured_delivery_resent_after_the_tolerance_is_refused_and_changes_nothing(
    client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(client, USER)
    body = samples.encode(paid_checkout())
    headers = signed(body)
    assert post_webhook(client, body, headers).json()["status"] == "processed"

    # The SDK checks the signature's age against its own clock: move only that one.
    later = time.time() + TOLERANCE + 1
    monkeypatch.setattr(stripe._webhook, "time", SimpleNamespace(time=lambda: later))

    assert_refused(client, database_url, body, headers, (400, "invalid_signature"))
    assert balance(client, USER) == 100


def test_a_configured_tolerance_is_the_age_a_signature_may_have(
    client_for: ClientFactory, database_url: str
) -> None:
    client = client_for(webhook_tolerance_seconds=60, raise_server_exceptions=False)
    register(client, USER)
    now = int(time.time())
    stale = samples.encode(paid_checkout())
    fresh = samples.encode(paid_checkout())

    assert_refused(
        client,
        database_url,
        stale,
        {"Stripe-Signature": sign_bytes(stale, timestamp=now - 61)},
        (400, "invalid_signature"),
    )
    headers = {"Stripe-Signature": sign_bytes(fresh, timestamp=now - 30)}
    assert post_webhook(client, fresh, headers).json()["status"] == "processed"


def test_a_signature_dated_beyond_the_tolerance_in_the_future_is_refused(
    client_for: ClientFactory, database_url: str
) -> None:
    """A signature dated an hour ahead would stay replayable for an hour and five minutes; a
    clock a little ahead of ours (within the tolerance) is still accepted."""
    client = client_for(webhook_tolerance_seconds=60, raise_server_exceptions=False)
    register(client, USER)
    now = int(time.time())
    ahead = samples.encode(paid_checkout())
    skewed = samples.encode(paid_checkout())

    assert_refused(
        client,
        database_url,
        ahead,
        {"Stripe-Signature": sign_bytes(ahead, timestamp=now + 3600)},
        (400, "invalid_signature"),
    )
    headers = {"Stripe-Signature": sign_bytes(skewed, timestamp=now + 30)}
    assert post_webhook(client, skewed, headers).json()["status"] == "processed"
    assert balance(client, USER) == 100


# Bodies built to break a parser ------------------------------------------------------------


def test_json_nested_a_hundred_thousand_deep_is_refused_with_400_not_a_crash(
    client: TestClient, database_url: str
) -> None:
    depth = 100_000
    body = b'{"id":"evt_1","object":"event","type":"x","data":{"object":{"a":%s%s}}}' % (
        b"[" * depth,
        b"]" * depth,
    )
    assert len(body) < MAX_WEBHOOK_BODY_BYTES

    assert_refused(client, database_url, body, signed(body), (400, "malformed_payload"))


def test_json_too_deep_to_serve_back_is_refused_though_it_parses(
    client: TestClient, database_url: str
) -> None:
    """300 levels parse, but the event could never be read back through GET /v1/events."""
    event = paid_checkout()
    nested: Any = "deep"
    for _ in range(300):
        nested = [nested]
    event["data"]["object"]["metadata"]["note"] = nested
    body = samples.encode(event)

    assert_refused(client, database_url, body, signed(body), (400, "malformed_payload"))


def test_json_as_deep_as_stripe_could_nest_is_stored_and_read_back(client: TestClient) -> None:
    event = samples.event("customer.updated", {})
    nested: dict[str, Any] = event["data"]["object"]
    for _ in range(MAX_NESTING - 3):  # the envelope, data and object are three levels
        nested["child"] = {}
        nested = nested["child"]

    assert deliver(client, event).json()["status"] == "ignored"
    assert stored_event(client, event["id"])["payload"] == event


def test_a_signed_event_of_almost_one_mib_is_stored_and_read_back(client: TestClient) -> None:
    event = samples.event("customer.updated", {"object": "customer"})
    event["data"]["object"]["metadata"] = {f"k{i}": "v" * 90 for i in range(10_000)}
    assert MAX_WEBHOOK_BODY_BYTES - 100_000 < len(samples.encode(event)) < MAX_WEBHOOK_BODY_BYTES

    assert deliver(client, event).json()["status"] == "ignored"
    assert stored_event(client, event["id"])["payload"] == event


def test_a_number_too_long_for_python_to_read_is_refused_with_400_not_a_crash(
    client: TestClient, database_url: str
) -> None:
    """Python's JSON reader refuses integers over 4,300 digits with a plain ValueError."""
    event = paid_checkout(amount_total=0)
    body = samples.encode(event).replace(b'"amount_total":0', b'"amount_total":' + b"9" * 5000)

    assert_refused(client, database_url, body, signed(body), (400, "malformed_payload"))


@pytest.mark.parametrize(
    "body",
    [
        '{"id":"evt_1","object":"event","type":"café"}'.encode("latin-1"),
        '{"id":"evt_1","object":"event"}'.encode("utf-16"),
        b'{"id":"evt_\xc0\xaf","object":"event"}',  # an overlong "/"
        b'{"id":"evt_\xed\xa0\x80","object":"event"}',  # a surrogate, encoded
        b'{"id":"evt_\xe2\x82","object":"event"}',  # a character cut short
    ],
    ids=["latin-1", "utf-16", "overlong", "encoded-surrogate", "truncated"],
)
def test_a_body_that_is_not_utf8_is_refused_however_it_fails(
    client: TestClient, database_url: str, body: bytes
) -> None:
    assert_refused(client, database_url, body, signed(body), (400, "malformed_payload"))


@pytest.mark.parametrize(
    "body",
    [
        b'{"id":"evt_1","object":"event","id":"evt_2","type":"x","data":{"object":{}}}',
        b'{"id":"evt_1","object":"event","type":"checkout.session.completed","data":{"object":'
        b'{"object":"checkout.session","id":"cs_1","metadata":{"credits":"1","credits":"900"}}}}',
    ],
    ids=["event-id", "credits"],
)
def test_json_with_a_key_given_twice_is_refused_as_ambiguous(
    client: TestClient, database_url: str, body: bytes
) -> None:
    assert_refused(client, database_url, body, signed(body), (400, "malformed_payload"))


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
    ids=["none", "text", "form", "multipart"],
)
def test_a_signed_event_not_sent_as_json_is_refused_with_415(
    client: TestClient, database_url: str, content_type: str | None
) -> None:
    register(client, USER)
    body = samples.encode(paid_checkout())
    headers = signed(body) | ({} if content_type is None else {"Content-Type": content_type})
    before = table_snapshot(database_url)

    response = client.post(WEBHOOK_PATH, content=body, headers=headers)  # sets no type itself

    assert error_of(response) == (415, "unsupported_media_type"), response.text
    assert table_snapshot(database_url) == before


def test_json_with_a_charset_is_json(client: TestClient) -> None:
    register(client, USER)
    body = samples.encode(paid_checkout())
    headers = {**signed(body), "Content-Type": "application/json; charset=utf-8"}

    assert post_webhook(client, body, headers).json()["status"] == "processed"
    assert balance(client, USER) == 100


@pytest.mark.parametrize(
    "where",
    [("id",), ("data", "object", "client_reference_id"), ("data", "object", "metadata", "note")],
    ids=lambda where: ".".join(where),
)
def test_a_lone_surrogate_anywhere_is_refused_like_the_bytes_it_escapes(
    client: TestClient, database_url: str, where: tuple[str, ...]
) -> None:
    """`"\\ud800"` is valid JSON but not Unicode: no database could store it, no reply carry it."""
    register(client, USER)
    event = paid_checkout()
    parent = event
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = "user_1\ud800"
    body = samples.encode(event)
    assert b"\\ud800" in body

    assert_refused(client, database_url, body, signed(body), (400, "malformed_payload"))


# Envelopes the inbox cannot store ----------------------------------------------------------


@pytest.mark.parametrize(
    "envelope",
    [
        {"id": "evt_\x00"},
        {"id": "evt_" + "x" * 252},
        {"type": "checkout.session.completed\x00"},
        {"type": "x" * 101},
        {"livemode": "false"},
    ],
    ids=["nul-id", "256-char-id", "nul-type", "101-char-type", "livemode"],
)
def test_an_event_id_or_type_no_column_can_hold_is_refused_before_anything_is_stored(
    client: TestClient, database_url: str, envelope: dict[str, Any]
) -> None:
    register(client, USER)
    body = samples.encode({**paid_checkout(), **envelope})

    assert_refused(client, database_url, body, signed(body), (400, "malformed_payload"))


# Signed events with fields Stripe never sends -----------------------------------------------


def test_an_unknown_event_type_is_stored_and_ignored(client: TestClient, database_url: str) -> None:
    event = samples.event("issuing_card.shipped", {"id": "ic_1", "object": "issuing.card"})

    assert "not an event creditflow acts on" in assert_parked(
        client, database_url, event, "ignored"
    )


def test_unknown_fields_anywhere_change_nothing_about_the_grant(client: TestClient) -> None:
    register(client, USER)
    event = paid_checkout(surprise={"nested": [1, "two", None]}, another_new_field=True)
    event["brand_new_envelope_field"] = {"x": 1}
    event["data"]["previous_attributes"] = {"status": "open"}

    assert deliver(client, event).json()["status"] == "processed"
    assert balance(client, USER) == 100


@pytest.mark.parametrize(
    ("session", "field"),
    [
        ({"amount_total": "1000"}, "amount_total"),
        ({"amount_total": 1000.0}, "amount_total"),
        ({"amount_total": -1000}, "amount_total"),
        ({"amount_total": 10**30}, "amount_total"),
        ({"amount_total": True}, "amount_total"),
        ({"client_reference_id": 7}, "client_reference_id"),
        ({"client_reference_id": "user\x00_1"}, "client_reference_id"),
        ({"client_reference_id": "u" * 256}, "client_reference_id"),
        ({"client_reference_id": None, "customer_details": "ada@example.com"}, "customer_details"),
        ({"client_reference_id": None, "customer_details": {"email": ["a@x.io"]}}, "email"),
        ({"metadata": ["credits", "100"]}, "metadata"),
        ({"currency": 840}, "currency"),
        ({"currency": "usdollar"}, "currency"),
        ({"livemode": "false"}, "livemode"),
        ({"payment_intent": ["pi_1"]}, "payment_intent"),
        ({"payment_status": ["paid"]}, "payment_status"),
        ({"id": "cs_\x00"}, "id is"),
        ({"metadata": {"credits": "9" * 5000}}, "5000 digits"),
    ],
    ids=lambda value: str(value)[:40] if isinstance(value, dict) else "",
)
def test_a_checkout_session_with_a_field_stripe_never_sends_is_parked(
    client: TestClient, database_url: str, session: dict[str, Any], field: str
) -> None:
    register(client, USER, "ada@example.com")

    assert field in assert_parked(client, database_url, paid_checkout(**session))


@pytest.mark.parametrize(
    "intent",
    [
        {"amount_received": "1000"},
        {"id": "pi_\x00"},
        {"metadata": {"user_id": ["user_1"], "credits": "100"}},
    ],
    ids=["amount-as-string", "nul-id", "user-id-a-list"],
)
def test_a_payment_intent_with_a_field_stripe_never_sends_is_parked(
    client: TestClient, database_url: str, intent: dict[str, Any]
) -> None:
    register(client, USER)
    event = payment_intent_event(metadata={"user_id": USER, "credits": "100"})
    event["data"]["object"].update(intent)

    assert_parked(client, database_url, event)


@pytest.mark.parametrize(
    ("fixture_name", "fields"),
    [
        ("charge_refunded_full.json", {"amount_refunded": "1000"}),
        ("charge_refunded_full.json", {"amount_refunded": 1e3}),
        ("charge_refunded_full.json", {"amount": -1000, "amount_refunded": -1000}),
        ("charge_refunded_full.json", {"amount_refunded": 10**30}),
        ("refund_created_partial.json", {"amount": "400"}),
        ("refund_created_partial.json", {"amount": -400}),
        ("refund_created_partial.json", {"id": "re_\x00"}),
        ("refund_created_partial.json", {"status": {"value": "canceled"}}),
        ("charge_dispute_created.json", {"amount": "1000"}),
        ("charge_dispute_closed_lost.json", {"status": ["lost"]}),
    ],
    ids=lambda value: str(value)[:40],
)
def test_money_coming_back_with_a_field_stripe_never_sends_is_parked_taking_nothing(
    client: TestClient, database_url: str, fixture_name: str, fields: dict[str, Any]
) -> None:
    intent = register_and_buy(client, USER)

    assert_parked(client, database_url, money_back_event(fixture_name, intent, **fields))
    assert balance(client, USER) == 100


@pytest.mark.parametrize("created", ["1800000000", 1.8e9, -1, 10**13, [1800000000]])
def test_money_coming_back_created_at_a_time_stripe_never_sends_is_parked_taking_nothing(
    client: TestClient, database_url: str, created: object
) -> None:
    """The event's `created` tells a charge's later refund total from an earlier one."""
    intent = register_and_buy(client, USER)
    event = {**money_back_event("charge_refunded_full.json", intent), "created": created}

    assert "created" in assert_parked(client, database_url, event)
    assert balance(client, USER) == 100


def test_money_coming_back_for_a_payment_intent_no_column_can_hold_is_parked(
    client: TestClient, database_url: str
) -> None:
    register(client, USER)
    buy(client, user_id=USER)
    event = money_back_event("charge_refunded_full.json", "pi_\x00")

    assert "payment_intent" in assert_parked(client, database_url, event)


def test_a_parked_event_is_served_back_as_it_was_signed(client: TestClient) -> None:
    """The operator sees what was sent, NUL and all, to judge it (PostgreSQL stores the escape)."""
    event = paid_checkout(client_reference_id="user\x00_1")
    assert deliver(client, event).json()["status"] == "needs_attention"

    assert stored_event(client, event["id"])["payload"] == event
