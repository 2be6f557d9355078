"""The one-function peer creditflow is measured against keeps its own promises, so the comparison
is with a correct design: a session granted once, a buyer nobody knows parked, a spend once per
key and never below zero, a bad signature refused. Correctness only, never timing."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from starlette.testclient import TestClient

from bench.peer.app import create_app
from bench.peer.database import fund_spend_users, peer_database, register_webhook_users
from bench.webhook.payments import WEBHOOK_SECRET, new_payment, signed

pytestmark = pytest.mark.postgres_only
API_KEY = "peer-test-key"


@pytest.fixture
def peer(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, str]]:
    with peer_database("peer_test") as conninfo:
        register_webhook_users(conninfo, 2)
        fund_spend_users(conninfo, 1, 5)
        monkeypatch.setenv("PEER_DATABASE_URL", conninfo)
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        monkeypatch.setenv("PEER_API_KEY", API_KEY)
        with TestClient(create_app()) as client:
            yield client, conninfo


def deliver(client: TestClient, body: bytes, signature: str) -> tuple[int, str]:
    response = client.post(
        "/api/stripe/webhook",
        content=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": signature},
    )
    return response.status_code, response.json()["status"]


def balance(conninfo: str, user: str) -> int:
    with psycopg.connect(conninfo) as connection:
        row = connection.execute(
            "SELECT credits FROM peer_wallets WHERE user_id = %s", (user,)
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("body_shape", ["stripe", "compact"])
def test_a_paid_session_is_granted_once_and_a_stranger_is_parked(
    peer: tuple[TestClient, str], body_shape: str
) -> None:
    client, conninfo = peer
    payment = new_payment(1, body_shape=body_shape)
    signature = signed(payment.body)
    assert deliver(client, payment.body, signature) == (200, "granted")
    assert deliver(client, payment.body, signature) == (200, "duplicate")
    assert balance(conninfo, "bench-user-1") == 100
    stranger = new_payment("nobody", body_shape=body_shape)
    assert deliver(client, stranger.body, signed(stranger.body)) == (200, "parked")
    with psycopg.connect(conninfo) as connection:
        parked = connection.execute("SELECT email, credits FROM peer_parked").fetchall()
    assert parked == [("bench-user-nobody@example.com", 100)]


def test_a_bad_signature_is_refused_and_grants_nothing(peer: tuple[TestClient, str]) -> None:
    client, conninfo = peer
    payment = new_payment(0)
    assert deliver(client, payment.body, signed(payment.body, "whsec_other"))[0] == 400
    assert balance(conninfo, "bench-user-0") == 0


def test_a_spend_counts_once_per_key_and_never_goes_below_zero(
    peer: tuple[TestClient, str],
) -> None:
    client, conninfo = peer
    auth = {"Authorization": f"Bearer {API_KEY}"}

    def spend(credits: int, key: str) -> tuple[int, str]:
        response = client.post(
            "/v1/wallets/u1/spend",
            json={"credits": credits, "idempotency_key": key, "reason": "test"},
            headers=auth,
        )
        return response.status_code, response.json()["status"]

    assert spend(3, "a") == (200, "spent")
    assert spend(3, "a") == (200, "replayed")
    assert spend(3, "b") == (402, "insufficient credits")  # 2 left
    assert spend(2, "b") == (200, "spent")  # the refused key was not kept
    assert balance(conninfo, "u1") == 0
    unauthorised = client.post(
        "/v1/wallets/u1/spend", json={"credits": 1, "idempotency_key": "c", "reason": "t"}
    )
    assert unauthorised.status_code == 401
