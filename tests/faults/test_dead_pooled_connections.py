"""Pooled connections the server closed: the next operation succeeds at once, nothing twice.

There is no pre-ping (a round trip at every checkout). What a PostgreSQL restart or failover does
to the pool is made deterministic here: the backend of every pooled connection is terminated
from another connection (`pg_terminate_backend`), so each pooled connection is dead while the
pool still holds it. The next delivery, spend or grant must be served at once on a fresh
connection (no 503): its transaction had sent nothing when its first statement met the dead
connection. A connection lost after the first statement must still answer 503 and leave nothing
done, so the retry Stripe or the client makes takes effect exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import PoolProxiedConnection

from bench.roundtrips.wire import counting_proxy
from creditflow.adapters.db import reconnect
from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.db.unit_of_work import UnitOfWork
from tests.faults.dead_connections import (
    assert_lost_or_made_alone,
    backend_pid,
    sever_before,
    terminate,
)
from tests.support import (
    balance,
    container,
    deliver,
    grant,
    ledger,
    paid_session_event,
    register,
    spend,
)

pytestmark = pytest.mark.postgres_only

POOLED = 3  # connections put in the pool before they are killed


def kill_the_pool(engine: Engine, database_url: str) -> list[int]:
    """Fill the pool with POOLED connections, then terminate the backend of each: their pids."""
    held = [engine.connect() for _ in range(POOLED)]
    pids = [backend_pid(connection) for connection in held]
    for connection in held:
        connection.close()  # back to the pool, alive for now
    terminate(database_url, pids)
    return pids


def connects(engine: Engine) -> list[object]:
    """Every connection the engine opens from now on."""
    opened: list[object] = []
    event.listen(engine, "connect", lambda dbapi_connection, _record: opened.append(1))
    return opened


Operation = Callable[[TestClient], httpx.Response]

OPERATIONS: dict[str, tuple[Operation, int]] = {
    # name: (the request, user_1's balance afterwards); user_1 starts with 10 credits.
    "delivery": (lambda client: deliver(client, paid_session_event(user_id="user_1")), 110),
    "spend": (lambda client: spend(client, "user_1", 3, "spend-1"), 7),
    "grant": (lambda client: grant(client, "user_1", 5, "grant-2"), 15),
    "health check": (lambda client: client.get("/healthz"), 10),
}


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS.keys())
def test_every_pooled_connection_killed_the_next_operation_succeeds_at_once(
    app_client: TestClient, postgres_url: str, operation: tuple[Operation, int]
) -> None:
    request, balance_after = operation
    register(app_client, "user_1")
    assert grant(app_client, "user_1", 10, "grant-1").status_code == 200
    engine = container(app_client).engine
    kill_the_pool(engine, postgres_url)
    opened = connects(engine)

    response = request(app_client)

    assert response.status_code == 200, response.text
    assert opened, "no dead connection was met: the test proved nothing"
    assert balance(app_client, "user_1") == balance_after


SPEND_STEPS = [
    "INSERT INTO ledger_entries",  # after the wallet's row lock: the second statement
    "UPDATE wallets",  # the last statement
    "COMMIT",
]


@pytest.mark.parametrize("step", SPEND_STEPS)
def test_a_connection_lost_after_the_first_statement_answers_503_and_nothing_is_done_twice(
    spending_client: TestClient, postgres_url: str, step: str, group_commit: bool
) -> None:
    app_client = spending_client
    register(app_client, "user_1")
    assert grant(app_client, "user_1", 10, "grant-1").status_code == 200
    sever_before(container(app_client).engine, step, postgres_url)

    first = spend(app_client, "user_1", 3, "spend-1")
    assert_lost_or_made_alone(first, group_commit)
    assert balance(app_client, "user_1") == (7 if first.status_code == 200 else 10)

    assert spend(app_client, "user_1", 3, "spend-1").status_code == 200  # the client's retry
    assert balance(app_client, "user_1") == 7
    assert [entry["delta"] for entry in ledger(app_client, "user_1")] == [-3, 10]


def pipelined_sum(pooled: PoolProxiedConnection) -> int:
    """Two statements in one psycopg pipeline on the driver's connection: one round trip."""
    driver: psycopg.Connection[Any] = pooled.driver_connection  # type: ignore[assignment]
    with driver.pipeline():
        first = driver.execute("SELECT 1")
        second = driver.execute("SELECT 2")
    return sum(row[0] for cursor in (first, second) for row in cursor.fetchall())


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = build_engine(postgres_url, pool_size=POOLED)
    yield engine
    engine.dispose()


def test_a_pipeline_sent_first_on_a_dead_connection_is_sent_again_on_a_fresh_one(
    engine: Engine, postgres_url: str
) -> None:
    dead = kill_the_pool(engine, postgres_url)

    with reconnect.connect(engine) as connection:
        connection.begin()
        total = reconnect.first_round_trip(connection, pipelined_sum)
        # The transaction goes on, on the fresh connection.
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        connection.commit()

    assert total == 3
    assert pid not in dead


def test_a_pipeline_after_the_first_round_trip_is_never_sent_again(
    engine: Engine, postgres_url: str
) -> None:
    with reconnect.connect(engine) as connection:
        connection.begin()
        connection.execute(text("SELECT 1"))  # the transaction is open on the server
        terminate(postgres_url, [backend_pid(connection)])
        sent: list[int] = []

        def counted(pooled: PoolProxiedConnection) -> int:
            sent.append(1)
            return pipelined_sum(pooled)

        with pytest.raises(psycopg.OperationalError):
            reconnect.first_round_trip(connection, counted)
        connection.invalidate()  # the driver's error, unseen by SQLAlchemy: the caller's to handle

    assert sent == [1]


def test_a_unit_of_work_sends_no_ping_only_its_own_statements(postgres_url: str) -> None:
    url = make_url(postgres_url)
    with counting_proxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        engine = build_engine(proxied, pool_size=1)
        try:
            for _ in range(2):  # the first opens the connection; the second reuses it
                proxy.take()
                with UnitOfWork(engine) as uow:  # a pre-ping would be sent here, at checkout
                    uow.connection.execute(text("SELECT 2"))
                    uow.commit()
                tally = proxy.take()
        finally:
            engine.dispose()

    assert tally.connections == 0
    assert [trip.statements for trip in tally.round_trips] == [
        ("BEGIN",),
        ("SELECT 2",),
        ("COMMIT",),
    ]
