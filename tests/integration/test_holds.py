"""Holds over HTTP on both engines: reserve, capture what the work cost, void the rest.

What an app relies on: a hold keeps credits from every other spend until it is captured,
voided or expires; a capture never takes more than the hold and happens once; a hold past its
expiry stops counting at once, before any sweeper runs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.db.tables import holds
from tests.conftest import ClientFactory
from tests.integration.test_metrics import scrape
from tests.support import (
    ManualClock,
    auth,
    container,
    delivered,
    error_of,
    grant,
    ledger,
    money_back_event,
    register,
    register_and_buy,
    spend,
    table_snapshot,
)

USER = "user_1"


def hold(client: httpx.Client, credits: int, key: str = "job_1", **fields: Any) -> httpx.Response:
    body = {"credits": credits, "idempotency_key": key, "reason": "a long job", **fields}
    return client.post(f"/v1/wallets/{USER}/holds", json=body, headers=auth())


def capture(client: httpx.Client, hold_id: str, credits: int | None = None) -> httpx.Response:
    body = {} if credits is None else {"credits": credits}
    return client.post(f"/v1/holds/{hold_id}/capture", json=body, headers=auth())


def void(client: httpx.Client, hold_id: str) -> httpx.Response:
    return client.post(f"/v1/holds/{hold_id}/void", headers=auth())


def wallet(client: httpx.Client) -> dict[str, Any]:
    response = client.get(f"/v1/wallets/{USER}", headers=auth())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def figures(client: httpx.Client) -> tuple[int, int, int]:
    found = wallet(client)
    return found["balance"], found["held"], found["available"]


def with_credits(client: httpx.Client, credits: int = 100) -> httpx.Client:
    register(client, USER)
    assert grant(client, USER, credits, "welcome").status_code == 200
    return client


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(client_for: ClientFactory, clock: ManualClock) -> TestClient:
    """`USER` with 100 granted credits, on an app whose clock the test moves."""
    client = client_for(clock=clock)
    with_credits(client)
    return client


def test_a_hold_reserves_credits_and_a_part_capture_spends_them_once(app: TestClient) -> None:
    opened = hold(app, 40)
    assert opened.status_code == 201, opened.text
    held = opened.json()
    assert (held["status"], held["credits"], held["balance"], held["available"]) == (
        "held",
        40,
        100,
        60,
    )
    assert figures(app) == (100, 40, 60)

    captured = capture(app, held["id"], 25)
    assert captured.status_code == 200, captured.text
    body = captured.json()
    assert (body["status"], body["captured"], body["released"]) == ("captured", 25, 15)
    assert (body["balance"], body["available"], body["replayed"]) == (75, 75, False)
    [entry] = [e for e in ledger(app, USER) if e["kind"] == "spend"]
    assert (entry["delta"], entry["reference"]) == (-25, held["id"])

    again = capture(app, held["id"], 25)
    assert again.status_code == 200
    assert (again.json()["replayed"], again.json()["captured"]) == (True, 25)
    assert error_of(capture(app, held["id"], 30)) == (409, "conflict")
    assert error_of(void(app, held["id"])) == (409, "hold_closed")
    assert figures(app) == (75, 0, 75)
    assert len([e for e in ledger(app, USER) if e["kind"] == "spend"]) == 1


def test_a_capture_without_credits_takes_the_whole_hold(app: TestClient) -> None:
    held = hold(app, 30).json()
    body = capture(app, held["id"]).json()
    assert (body["captured"], body["released"], body["balance"]) == (30, 0, 70)


def test_a_capture_without_a_body_takes_the_whole_hold(app: TestClient) -> None:
    held = hold(app, 30).json()
    response = app.post(f"/v1/holds/{held['id']}/capture", headers=auth())
    assert response.status_code == 200, response.text
    assert (response.json()["captured"], response.json()["balance"]) == (30, 70)


def test_a_void_releases_the_hold_and_voiding_again_answers_the_same(app: TestClient) -> None:
    held = hold(app, 30).json()
    voided = void(app, held["id"])
    assert voided.status_code == 200, voided.text
    assert (voided.json()["status"], voided.json()["released"]) == ("voided", 30)
    assert void(app, held["id"]).json()["replayed"] is True
    assert figures(app) == (100, 0, 100)
    assert error_of(capture(app, held["id"])) == (409, "hold_closed")
    assert [e["kind"] for e in ledger(app, USER)] == ["grant"]


def test_the_same_key_returns_the_first_hold_and_another_amount_is_a_conflict(
    app: TestClient,
) -> None:
    first = hold(app, 30)
    again = hold(app, 30)
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    assert again.json()["id"] == first.json()["id"]
    assert error_of(hold(app, 31)) == (409, "conflict")
    assert figures(app) == (100, 30, 70)


def test_a_hold_beyond_available_is_refused_with_the_balance_and_nothing_changes(
    app: TestClient, database_url: str
) -> None:
    hold(app, 70)
    before = table_snapshot(database_url)
    refused = hold(app, 31, key="job_2")
    assert error_of(refused) == (402, "insufficient_credits")
    assert (refused.json()["error"]["balance"], refused.json()["error"]["available"]) == (100, 30)
    assert table_snapshot(database_url) == before


def test_a_spend_is_refused_while_the_credits_are_held(app: TestClient) -> None:
    hold(app, 70)
    refused = spend(app, USER, 31, "s1")
    assert error_of(refused) == (402, "insufficient_credits")
    assert refused.json()["error"]["available"] == 30
    assert spend(app, USER, 30, "s2").status_code == 200
    assert figures(app) == (70, 70, 0)


def test_a_capture_beyond_the_hold_is_refused_and_changes_nothing(app: TestClient) -> None:
    held = hold(app, 30).json()
    assert error_of(capture(app, held["id"], 31)) == (409, "exceeds_hold")
    assert figures(app) == (100, 30, 70)


def test_a_hold_past_its_expiry_stops_counting_at_once_and_cannot_be_captured(
    app: TestClient, clock: ManualClock
) -> None:
    held = hold(app, 40, expires_in_seconds=1).json()
    assert figures(app) == (100, 40, 60)
    clock.advance(timedelta(seconds=1))

    assert figures(app) == (100, 0, 100)
    refused = capture(app, held["id"])
    assert error_of(refused) == (409, "hold_closed")
    assert refused.json()["error"]["status"] == "expired"
    assert app.get(f"/v1/holds/{held['id']}", headers=auth()).json()["status"] == "expired"

    container(app).expiry.expire_due()
    listed = app.get(f"/v1/wallets/{USER}/holds", params={"status": "expired"}, headers=auth())
    assert [h["id"] for h in listed.json()["holds"]] == [held["id"]]
    assert [e["kind"] for e in ledger(app, USER)] == ["grant"]  # no credits moved


def test_the_wallets_holds_are_listed_by_status(app: TestClient) -> None:
    live = hold(app, 10, key="a").json()
    closed = hold(app, 10, key="b").json()
    void(app, closed["id"])
    listed = app.get(f"/v1/wallets/{USER}/holds", params={"status": "held"}, headers=auth())
    assert [h["id"] for h in listed.json()["holds"]] == [live["id"]]
    everything = app.get(f"/v1/wallets/{USER}/holds", headers=auth()).json()["holds"]
    assert {h["id"] for h in everything} == {live["id"], closed["id"]}


def test_an_unknown_hold_is_not_found(app: TestClient) -> None:
    assert error_of(capture(app, "hold_nope")) == (404, "not_found")
    assert error_of(void(app, "hold_nope")) == (404, "not_found")


def test_an_expiry_beyond_a_day_is_refused(app: TestClient) -> None:
    assert hold(app, 10, expires_in_seconds=86_401).status_code == 422


def test_an_expiring_lot_leaves_the_credits_live_holds_need_until_they_close(
    client_for: ClientFactory, clock: ManualClock
) -> None:
    """docs/design.md, holds: lot expiry waits while live holds need its credits, so a live
    hold's capture never fails; the rest of the lot expires once the hold is closed."""
    app = client_for(clock=clock)
    register(app, USER)
    assert grant(app, USER, 100, "promo", expires_at=clock.now + timedelta(minutes=5)).status_code
    held = hold(app, 30, expires_in_seconds=3600).json()
    clock.advance(timedelta(minutes=10))

    container(app).expiry.expire_due()
    assert figures(app) == (30, 30, 0)
    assert capture(app, held["id"], 10).json()["balance"] == 20
    container(app).expiry.expire_due()
    assert figures(app) == (0, 0, 0)
    assert [e["delta"] for e in ledger(app, USER) if e["kind"] == "expiry"] == [-20, -70]


def test_the_audit_names_a_wallet_whose_live_holds_exceed_its_balance(
    app: TestClient, database_url: str
) -> None:
    held = hold(app, 60).json()
    audit = container(app).audit
    assert all(finding.holds for finding in audit.run())
    engine = build_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(update(holds).where(holds.c.id == held["id"]).values(credits=101))
        assert [f.breaches for f in audit.run() if not f.holds] == [
            [f"user_id={USER}, balance=100, held=101"]
        ]
        with engine.begin() as connection:
            connection.execute(update(holds).where(holds.c.id == held["id"]).values(credits=60))
    finally:
        engine.dispose()


def test_the_metrics_count_holds_by_how_they_closed_and_the_credits_held(
    app: TestClient, clock: ManualClock
) -> None:
    captured, voided = (hold(app, 10, key=key).json()["id"] for key in "ab")
    hold(app, 10, key="c")
    hold(app, 10, key="d")
    capture(app, captured, 4)
    void(app, voided)
    hold(app, 5, key="e", expires_in_seconds=1)
    clock.advance(timedelta(seconds=1))  # e expired, unswept; c and d hold 20

    metrics = scrape(app)
    counters = ("opened", "captured", "voided", "expired")
    assert [metrics[f"creditflow_holds_{name}_total"] for name in counters] == [5, 1, 1, 1]
    assert metrics["creditflow_credits_held"] == 20


def test_a_refund_of_held_credits_leaves_the_capture_what_is_left_never_below_zero(
    client: TestClient,
) -> None:
    paid = register_and_buy(client, USER)  # 100 credits for 1000 cents
    held = hold(client, 80).json()
    assert delivered(client, money_back_event("charge_refunded_partial.json", paid)) == "processed"
    assert figures(client) == (60, 80, -20)
    assert all(finding.holds for finding in container(client).audit.run())

    captured = capture(client, held["id"]).json()
    assert (captured["captured"], captured["balance"], captured["available"]) == (60, 0, 0)
    [entry] = [e for e in ledger(client, USER) if e["kind"] == "spend"]
    assert entry["delta"] == -60
    assert "20 not collected" in entry["reason"]
