"""Promotional and manual grants (`POST /v1/wallets/{user_id}/grants`), lots, and expiry.

Credits live in lots: a spend takes from the lot that expires first and from paid credits last.
Expired credits leave the balance through an `expiry` entry, written when the expiry job runs at
or after the lot's `expires_at`. Time is a `ManualClock` handed to the app, never a sleep.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ClientFactory
from tests.servers import wait_for
from tests.support import (
    ManualClock,
    balance,
    buy,
    error_of,
    expire_due,
    grant,
    ledger,
    register,
    spend,
    story,
    table_snapshot,
)

USER = "user_1"
WEEK = timedelta(days=7)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def timed_client(client_for: ClientFactory, clock: ManualClock) -> TestClient:
    """An app on `clock`, its periodic expiry off: the test runs the job when it wants."""
    client = client_for(clock=clock, expiry_interval_seconds=0)
    register(client, USER)
    return client


def test_a_grant_adds_credits_through_a_grant_entry(client: TestClient) -> None:
    register(client, USER)

    response = grant(client, USER, 50, "promo_1", reason="welcome bonus")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["balance"], body["replayed"]) == (50, False)
    assert (body["entry"]["kind"], body["entry"]["delta"], body["entry"]["reason"]) == (
        "grant",
        50,
        "welcome bonus",
    )
    assert story(client, USER) == [("grant", 50)]


def test_a_retried_grant_returns_the_original_result_and_grants_once(client: TestClient) -> None:
    register(client, USER)
    expires_at = datetime.now(UTC) + WEEK
    first = grant(client, USER, 50, "promo_1", expires_at=expires_at).json()

    retries = [grant(client, USER, 50, "promo_1", expires_at=expires_at) for _ in range(3)]

    assert [r.status_code for r in retries] == [200] * 3
    assert {(r.json()["replayed"], r.json()["entry"]["id"]) for r in retries} == {
        (True, first["entry"]["id"])
    }
    assert balance(client, USER) == 50
    assert story(client, USER) == [("grant", 50)]
    [entry] = ledger(client, USER)
    assert datetime.fromisoformat(entry["expires_at"]) == expires_at


def test_the_same_expiry_written_in_another_timezone_is_the_same_grant(
    client: TestClient,
) -> None:
    register(client, USER)
    grant(client, USER, 50, "promo_1", expires_at="2999-01-31T00:00:00Z")

    retry = grant(client, USER, 50, "promo_1", expires_at="2999-01-31T01:00:00+01:00")

    assert retry.status_code == 200, retry.text
    assert retry.json()["replayed"] is True


@pytest.mark.parametrize(
    "different",
    [
        {"credits": 51},
        {"reason": "apology"},
        {"expires_at": "2999-02-01T00:00:00Z"},
        {"expires_at": None},
    ],
    ids=["amount", "reason", "expiry", "no-expiry"],
)
def test_the_same_key_for_a_different_grant_is_refused_with_409_and_changes_nothing(
    client: TestClient, database_url: str, different: dict[str, Any]
) -> None:
    register(client, USER)
    original: dict[str, Any] = {
        "credits": 50,
        "reason": "welcome bonus",
        "expires_at": "2999-01-31T00:00:00Z",
    }
    assert grant(client, USER, key="promo_1", **original).status_code == 200
    before = table_snapshot(database_url)

    clash = grant(client, USER, key="promo_1", **{**original, **different})

    assert error_of(clash) == (409, "conflict")
    assert table_snapshot(database_url) == before


def test_a_grant_retried_after_its_expiry_passed_returns_the_original_result(
    timed_client: TestClient, clock: ManualClock
) -> None:
    expires_at = clock.now + WEEK
    first = grant(timed_client, USER, 50, "promo_1", expires_at=expires_at).json()
    clock.advance(WEEK + timedelta(days=1))

    retry = grant(timed_client, USER, 50, "promo_1", expires_at=expires_at)

    assert retry.status_code == 200, retry.text
    assert (retry.json()["replayed"], retry.json()["entry"]["id"]) == (True, first["entry"]["id"])
    assert story(timed_client, USER) == [("grant", 50)]


@pytest.mark.parametrize(
    ("expires_at", "problem"),
    [("2001-01-01T00:00:00Z", "in the past"), ("2999-01-31T00:00:00", "timezone")],
    ids=["past", "naive"],
)
def test_a_new_grant_expiring_in_the_past_or_without_timezone_is_refused_with_422(
    client: TestClient, expires_at: str, problem: str
) -> None:
    register(client, USER)

    response = grant(client, USER, 50, "promo_1", expires_at=expires_at)

    assert error_of(response) == (422, "invalid_request")
    assert problem in response.json()["error"]["message"]
    assert ledger(client, USER) == []


@pytest.mark.parametrize("expires_at", [None, "2001-01-01T00:00:00Z"], ids=["never", "past"])
def test_granting_to_an_unknown_user_is_404_whatever_else_is_wrong(
    client: TestClient, expires_at: str | None
) -> None:
    response = grant(client, "nobody", 50, "promo_1", expires_at=expires_at)

    assert error_of(response) == (404, "not_found")


def test_a_spend_takes_the_lot_expiring_first_and_paid_credits_last(
    timed_client: TestClient, clock: ManualClock
) -> None:
    """Paid 100, a promo of 30 expiring in two weeks, one of 20 expiring in one: a spend of 40
    empties the one-week promo, then takes 20 of the two-week one; paid credits are untouched,
    which the expiry of both promos shows: exactly the 10 promo credits left expire."""
    buy(timed_client, user_id=USER, credits=100)
    grant(timed_client, USER, 30, "promo_late", expires_at=clock.now + 2 * WEEK)
    grant(timed_client, USER, 20, "promo_soon", expires_at=clock.now + WEEK)
    assert spend(timed_client, USER, 40, "gen_1").json()["balance"] == 110

    clock.advance(WEEK)
    assert expire_due(timed_client) == 0  # the one-week promo was spent entirely
    clock.advance(WEEK)
    assert expire_due(timed_client) == 10

    assert balance(timed_client, USER) == 100
    assert story(timed_client, USER)[-1] == ("expiry", -10)


def test_a_promo_lot_is_spent_before_paid_credits_granted_earlier_or_later(
    timed_client: TestClient, clock: ManualClock
) -> None:
    grant(timed_client, USER, 50, "promo_1", expires_at=clock.now + WEEK)
    buy(timed_client, user_id=USER, credits=100)
    spend(timed_client, USER, 30, "gen_1")

    clock.advance(WEEK)
    expired = expire_due(timed_client)

    assert expired == 20
    assert balance(timed_client, USER) == 100


def test_expired_credits_leave_through_an_expiry_entry_at_the_expiry_time_not_before(
    timed_client: TestClient, clock: ManualClock
) -> None:
    buy(timed_client, user_id=USER, credits=100)
    expires_at = clock.now + WEEK
    grant(timed_client, USER, 50, "promo_1", expires_at=expires_at)

    clock.advance(WEEK - timedelta(seconds=1))
    assert expire_due(timed_client) == 0
    assert balance(timed_client, USER) == 150

    clock.advance(timedelta(seconds=1))
    assert expire_due(timed_client) == 50

    entry = ledger(timed_client, USER)[0]
    assert (entry["kind"], entry["delta"], entry["balance_after"]) == ("expiry", -50, 100)
    assert datetime.fromisoformat(entry["created_at"]) == expires_at
    assert "50 credits expired" in entry["reason"]
    assert balance(timed_client, USER) == 100


def test_running_the_expiry_job_again_expires_nothing_more(
    timed_client: TestClient, clock: ManualClock
) -> None:
    grant(timed_client, USER, 50, "promo_1", expires_at=clock.now + WEEK)
    clock.advance(2 * WEEK)

    runs = [expire_due(timed_client) for _ in range(3)]

    assert runs == [50, 0, 0]
    assert story(timed_client, USER) == [("grant", 50), ("expiry", -50)]


def test_credits_without_an_expiry_never_expire(
    timed_client: TestClient, clock: ManualClock
) -> None:
    buy(timed_client, user_id=USER, credits=100)
    grant(timed_client, USER, 50, "promo_forever")
    clock.advance(timedelta(days=3650))

    assert expire_due(timed_client) == 0
    assert balance(timed_client, USER) == 150


def test_expired_credits_can_no_longer_be_spent(
    timed_client: TestClient, clock: ManualClock
) -> None:
    grant(timed_client, USER, 50, "promo_1", expires_at=clock.now + WEEK)
    clock.advance(WEEK)
    expire_due(timed_client)

    refused = spend(timed_client, USER, 1, "gen_1")

    assert error_of(refused) == (402, "insufficient_credits")
    assert refused.json()["error"]["balance"] == 0


def test_the_server_expires_due_credits_on_its_own(
    client_for: ClientFactory, clock: ManualClock
) -> None:
    client = client_for(clock=clock, expiry_interval_seconds=0.05)
    register(client, USER)
    grant(client, USER, 50, "promo_1", expires_at=clock.now + WEEK)
    assert balance(client, USER) == 50

    clock.advance(WEEK)

    wait_for(lambda: balance(client, USER) == 0, "the periodic expiry")
    assert story(client, USER) == [("grant", 50), ("expiry", -50)]
