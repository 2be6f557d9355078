"""An unverified or malformed webhook request changes nothing, and says why with a JSON error.

Each test takes a snapshot of every table, sends the bad request, and compares. The app answers
unhandled errors with a 500 here (as a real server would) instead of raising into the test, so a
crash shows up as a wrong status, not as a different exception.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from creditflow.adapters.stripe import samples
from creditflow.entrypoints.http import create_app
from creditflow.settings import MAX_WEBHOOK_BODY_BYTES, Settings
from tests.conftest import ClientFactory
from tests.support import (
    OTHER_SECRET,
    WEBHOOK_SECRET,
    assert_refused,
    balance,
    deliver,
    error_of,
    paid_session_event,
    post_webhook,
    register,
    sign_bytes,
    table_snapshot,
)

TWO_MIB = 2 * 1024 * 1024


@pytest.fixture
def client(client_for: ClientFactory) -> TestClient:
    return client_for(raise_server_exceptions=False)


@pytest.fixture
def signed_event(client: TestClient) -> tuple[bytes, str]:
    """A genuine paid-checkout body and its valid signature, for a registered user."""
    register(client, "user_1", "ada@example.com")
    body = samples.encode(paid_session_event(user_id="user_1", credits=100))
    return body, samples.signature_header(body, WEBHOOK_SECRET)


def test_a_tampered_body_is_refused_as_a_bad_signature(
    client: TestClient, database_url: str, signed_event: tuple[bytes, str]
) -> None:
    body, header = signed_event
    tampered = body.replace(b'"credits":"100"', b'"credits":"999"')
    assert tampered != body

    assert_refused(
        client, database_url, tampered, {"Stripe-Signature": header}, (400, "invalid_signature")
    )


def test_a_forged_signature_is_refused(
    client: TestClient, database_url: str, signed_event: tuple[bytes, str]
) -> None:
    body, _ = signed_event
    forged = f"t={int(time.time())},v1={'0' * 64}"

    assert_refused(
        client, database_url, body, {"Stripe-Signature": forged}, (400, "invalid_signature")
    )


def test_a_delivery_signed_with_another_secret_is_refused(
    client: TestClient, database_url: str, signed_event: tuple[bytes, str]
) -> None:
    body, _ = signed_event
    header = samples.signature_header(body, OTHER_SECRET)

    assert_refused(
        client, database_url, body, {"Stripe-Signature": header}, (400, "invalid_signature")
    )


def test_a_stale_timestamp_is_refused_even_with_a_valid_signature(
    client: TestClient, database_url: str, signed_event: tuple[bytes, str]
) -> None:
    body, _ = signed_event
    header = samples.signature_header(body, WEBHOOK_SECRET, timestamp=int(time.time()) - 301)

    assert_refused(
        client, database_url, body, {"Stripe-Signature": header}, (400, "invalid_signature")
    )


def test_a_delivery_without_a_signature_header_is_refused(
    client: TestClient, database_url: str, signed_event: tuple[bytes, str]
) -> None:
    body, _ = signed_event

    assert_refused(client, database_url, body, {}, (400, "invalid_signature"))


@pytest.mark.parametrize("header", ["", "garbage", "t=notanumber,v1=abc", "v1=abc"])
def test_an_unreadable_signature_header_is_refused(
    client: TestClient, database_url: str, signed_event: tuple[bytes, str], header: str
) -> None:
    body, _ = signed_event

    assert_refused(
        client, database_url, body, {"Stripe-Signature": header}, (400, "invalid_signature")
    )


def test_a_signed_body_that_is_not_json_is_refused_as_malformed(
    client: TestClient, database_url: str
) -> None:
    body = b'{"id": "evt_1", "object": "event", '
    header = samples.signature_header(body, WEBHOOK_SECRET)

    assert_refused(
        client, database_url, body, {"Stripe-Signature": header}, (400, "malformed_payload")
    )


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'"event"',
        b'{"id": "ch_1", "object": "charge"}',
        b'{"id": "evt_1", "object": "event", "type": "checkout.session.completed"}',
        b'{"id": 7, "object": "event", "type": "x", "data": {"object": {}}}',
        b'{"id": "evt_1", "object": "event", "type": "x", "data": {"object": "cs_1"}}',
        b'{"id": "evt_1", "object": "event", "type": "x", "data": {"object": [{"id": "cs_1"}]}}',
    ],
    ids=[
        "array",
        "string",
        "not-an-event",
        "no-data",
        "numeric-id",
        "data-object-not-object",
        "data-object-a-list",
    ],
)
def test_a_signed_json_body_that_is_not_a_stripe_event_is_refused_as_malformed(
    client: TestClient, database_url: str, body: bytes
) -> None:
    header = samples.signature_header(body, WEBHOOK_SECRET)

    assert_refused(
        client, database_url, body, {"Stripe-Signature": header}, (400, "malformed_payload")
    )


def test_a_body_that_is_not_utf8_is_refused_with_400(client: TestClient, database_url: str) -> None:
    body = b'{"id": "evt_\xff\xfe", "object": "event"}'
    before = table_snapshot(database_url)

    response = post_webhook(client, body, {"Stripe-Signature": sign_bytes(body)})

    assert table_snapshot(database_url) == before
    # Either code is a fair description (the body cannot even be checked as text); 400 is not.
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in {"malformed_payload", "invalid_signature"}


def test_a_body_over_one_mib_with_its_content_length_is_refused_with_413(
    live_server: str, database_url: str
) -> None:
    body = b"x" * TWO_MIB
    headers = {"Stripe-Signature": sign_bytes(body)}
    before = table_snapshot(database_url)

    with httpx.Client(base_url=live_server, timeout=60) as http:
        response = post_webhook(http, body, headers)

    assert response.request.headers["content-length"] == str(TWO_MIB)
    assert error_of(response) == (413, "payload_too_large")
    assert table_snapshot(database_url) == before


def test_a_chunked_body_over_one_mib_without_content_length_is_refused_with_413(
    live_server: str, database_url: str
) -> None:
    chunk = b"x" * 64 * 1024

    def chunks() -> Iterator[bytes]:  # a generator: httpx sends it chunked, with no length
        for _ in range(TWO_MIB // len(chunk)):
            yield chunk

    headers = {"Stripe-Signature": sign_bytes(chunk * (TWO_MIB // len(chunk)))}
    before = table_snapshot(database_url)

    with httpx.Client(base_url=live_server, timeout=60) as http:
        response = post_webhook(http, chunks(), headers)

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert error_of(response) == (413, "payload_too_large")
    assert table_snapshot(database_url) == before


def test_a_body_of_exactly_one_mib_is_not_refused_for_its_size(
    client: TestClient, database_url: str
) -> None:
    body = b"x" * MAX_WEBHOOK_BODY_BYTES

    assert_refused(
        client,
        database_url,
        body,
        {"Stripe-Signature": samples.signature_header(body, WEBHOOK_SECRET)},
        (400, "malformed_payload"),
    )


def test_without_a_webhook_secret_every_delivery_is_refused_with_503(
    client_for: ClientFactory, database_url: str
) -> None:
    client = client_for(webhook_secrets=(), raise_server_exceptions=False)
    body = samples.encode(paid_session_event(user_id="user_1", credits=100))
    headers = {"Stripe-Signature": samples.signature_header(body, WEBHOOK_SECRET)}

    assert_refused(client, database_url, body, headers, (503, "not_configured"))
    assert "STRIPE_WEBHOOK_SECRET" in post_webhook(client, body, headers).json()["error"]["message"]


def test_with_two_secrets_configured_a_delivery_signed_with_either_is_accepted(
    client_for: ClientFactory,
) -> None:
    client = client_for(webhook_secrets=(SecretStr(OTHER_SECRET), SecretStr(WEBHOOK_SECRET)))
    register(client, "user_1")

    first = deliver(client, paid_session_event(user_id="user_1", credits=10), secret=WEBHOOK_SECRET)
    second = deliver(client, paid_session_event(user_id="user_1", credits=5), secret=OTHER_SECRET)
    third = deliver(client, paid_session_event(user_id="user_1", credits=1), secret="whsec_nope")

    assert (first.json()["status"], second.json()["status"]) == ("processed", "processed")
    assert error_of(third) == (400, "invalid_signature")
    assert balance(client, "user_1") == 15


def test_two_comma_separated_secrets_in_the_environment_both_sign_validly(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", f" {WEBHOOK_SECRET} , {OTHER_SECRET} ")
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", database_url)
    monkeypatch.setenv("CREDITFLOW_API_KEY", "cf_test_api_key_0123456789")
    settings = Settings(_env_file=None)

    with TestClient(create_app(settings)) as client:
        register(client, "user_1")
        for secret in (WEBHOOK_SECRET, OTHER_SECRET):
            event = paid_session_event(user_id="user_1", credits=10)
            assert deliver(client, event, secret=secret).json()["status"] == "processed"
        assert balance(client, "user_1") == 20
