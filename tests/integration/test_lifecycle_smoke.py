"""Smoke checks of the credit lifecycle: spend, promotional lots, refunds, disputes."""

from __future__ import annotations

import copy

from fastapi.testclient import TestClient

from creditflow.adapters.stripe import samples
from tests.support import auth, balance, deliver, fixture, paid_session_event, register


def test_spend_refund_and_dispute_story(client: TestClient) -> None:
    register(client, "u1")
    event = paid_session_event(user_id="u1", credits=100, payment_intent_id="pi_1")
    assert deliver(client, event).json()["status"] == "processed"
    r = client.post(
        "/v1/wallets/u1/spend",
        json={"credits": 30, "idempotency_key": "k1", "reason": "gen"},
        headers=auth(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["balance"] == 70
    again = client.post(
        "/v1/wallets/u1/spend",
        json={"credits": 30, "idempotency_key": "k1", "reason": "gen"},
        headers=auth(),
    )
    assert again.json()["replayed"] is True
    assert again.json()["balance"] == 70
    clash = client.post(
        "/v1/wallets/u1/spend",
        json={"credits": 31, "idempotency_key": "k1", "reason": "gen"},
        headers=auth(),
    )
    assert clash.status_code == 409
    too_much = client.post(
        "/v1/wallets/u1/spend",
        json={"credits": 71, "idempotency_key": "k2", "reason": "gen"},
        headers=auth(),
    )
    assert too_much.status_code == 402
    assert too_much.json()["error"]["balance"] == 70

    refund = fixture("derived/charge_refunded_partial.json")
    refund["data"]["object"]["payment_intent"] = "pi_1"
    assert deliver(client, refund).json()["status"] == "processed"
    assert balance(client, "u1") == 30  # 40 of 100 taken back
    assert deliver(client, refund).json()["status"] == "duplicate"
    second = copy.deepcopy(refund)
    second["id"] = "evt_other"
    assert deliver(client, second).json()["status"] == "duplicate"
    assert balance(client, "u1") == 30

    dispute = fixture("derived/charge_dispute_created.json")
    dispute["data"]["object"]["payment_intent"] = "pi_1"
    assert deliver(client, dispute).json()["status"] == "processed"
    assert balance(client, "u1") == -30  # 60 held, 30 already spent: debt
    won = fixture("derived/charge_dispute_closed_won.json")
    won["data"]["object"]["payment_intent"] = "pi_1"
    assert deliver(client, won).json()["status"] == "processed"
    assert balance(client, "u1") == 30
    purchases = client.get("/v1/purchases", headers=auth()).json()["purchases"]
    assert purchases[0]["status"] == "dispute_won"
    ledger = client.get("/v1/wallets/u1/ledger", headers=auth()).json()["entries"]
    assert [e["kind"] for e in ledger] == [
        "dispute_return",
        "dispute_hold",
        "refund",
        "spend",
        "purchase",
    ]
    audit = client.app.state.container.audit.run()  # type: ignore[attr-defined]
    assert [f.invariant for f in audit if not f.holds] == []


def test_refund_before_purchase_event_is_applied_when_it_arrives(client: TestClient) -> None:
    register(client, "u2")
    refund = fixture("derived/charge_refunded_partial.json")
    refund["data"]["object"]["payment_intent"] = "pi_2"
    deliver(client, refund)
    assert balance(client, "u2") == 0
    session = samples.checkout_session(user_id="u2", credits=100, payment_intent_id="pi_2")
    deliver(client, samples.event("checkout.session.completed", session))
    assert balance(client, "u2") == 60
    pi = fixture("payment_intent.json")
    pi["id"] = "pi_2"
    pi["metadata"] = {"user_id": "u2", "credits": "100"}
    r = deliver(client, samples.event("payment_intent.succeeded", pi))
    assert r.json()["status"] == "duplicate", r.json()
    assert balance(client, "u2") == 60
