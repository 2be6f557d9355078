"""A delivery the client gave up on, though the server went on and committed it, is safe to retry.

Stripe waits a limited time for an answer, then retries; the server does not notice and may
still commit the first attempt. The test makes that happen on purpose: it holds what the
delivery needs (the buyer's wallet row on PostgreSQL, the write lock of the SQLite file), so the
server is still waiting when the client's short timeout expires, then lets go. Whether the retry
comes after the server committed or while the first attempt is still in flight, the payment is
granted once and the retry is answered 200.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.db.tables import wallets
from tests.faults.payments import Payment, assert_credited_exactly_once
from tests.faults.stripe_like import Answer
from tests.servers import running_servers, wait_for
from tests.support import auth, deliver, paid_session_event, register, server_environment

pytestmark = pytest.mark.slow

USER = "user_1"
CLIENT_TIMEOUT_SECONDS = 0.5
STILL_IN_FLIGHT_SECONDS = 0.5  # how long the lock is kept after the retry was sent


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    """One server process on the parametrised database, with `USER` registered; a client of it
    that waits as long as it takes."""
    with (
        running_servers(1, server_environment(database_url), tmp_path) as [process],
        httpx.Client(base_url=process.url, timeout=60) as client,
    ):
        register(client, USER)
        yield client


@contextmanager
def wallet_locked(database_url: str, user_id: str) -> Iterator[threading.Event]:
    """Hold the lock a grant to `user_id` waits for, until the block ends or the yielded event
    is set. On SQLite the engine's BEGIN IMMEDIATE takes the file's write lock (FOR UPDATE is not
    rendered there); on PostgreSQL FOR UPDATE locks the wallet row."""
    engine = build_engine(database_url)
    release = threading.Event()
    with engine.connect() as connection:
        connection.begin()
        connection.execute(
            select(wallets.c.balance).where(wallets.c.user_id == user_id).with_for_update()
        )

        def hold() -> None:
            release.wait()
            connection.rollback()

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            yield release
        finally:
            release.set()
            holder.join()
    engine.dispose()


def give_up_waiting(server: httpx.Client, event: dict[str, object]) -> None:
    """Deliver `event` with a client that stops waiting after CLIENT_TIMEOUT_SECONDS."""
    with (
        httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT_SECONDS) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        deliver(impatient, event)


def recorded(server: httpx.Client, event_id: str) -> tuple[str, int] | None:
    """The stored delivery's outcome and how many attempts reached the server; None before the
    first attempt committed."""
    response = server.get(f"/v1/events/{event_id}", headers=auth())
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()["status"], response.json()["delivery_count"]


def test_a_retry_after_the_server_committed_the_abandoned_attempt_answers_duplicate(
    server: httpx.Client, database_url: str
) -> None:
    event = paid_session_event(user_id=USER, credits=100)
    with wallet_locked(database_url, USER):
        give_up_waiting(server, event)
    wait_for(
        lambda: recorded(server, event["id"]) == ("processed", 1),
        "the server to commit the delivery the client gave up on",
    )

    retry = deliver(server, event)

    assert (retry.status_code, retry.json()["status"]) == (200, "duplicate")
    assert recorded(server, event["id"]) == ("processed", 2)
    payment = Payment(USER, 100, event["data"]["object"])
    assert_credited_exactly_once(database_url, [payment], [Answer.of(event["id"], retry)])


def test_a_retry_while_the_abandoned_attempt_is_still_in_flight_waits_for_it_and_grants_once(
    server: httpx.Client, database_url: str
) -> None:
    event = paid_session_event(user_id=USER, credits=100)
    with wallet_locked(database_url, USER) as release:
        give_up_waiting(server, event)
        threading.Timer(STILL_IN_FLIGHT_SECONDS, release.set).start()
        retry = deliver(server, event)

    # Whichever attempt gets the lock first processes the payment; the other finds it done.
    assert (retry.status_code, retry.json()["status"]) in {(200, "processed"), (200, "duplicate")}
    wait_for(
        lambda: recorded(server, event["id"]) == ("processed", 2),
        "both attempts to be recorded on the one delivery",
    )
    payment = Payment(USER, 100, event["data"]["object"])
    assert_credited_exactly_once(database_url, [payment], [Answer.of(event["id"], retry)])
