"""`/v1/events`, `/v1/purchases` and `/v1/pending-grants` page like the ledger: newest first,
`next_before` passed back as `before`, so every row can be read, not only the newest 500; and
each page is one range of an index, so a page costs the same however long the history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, inspect

from creditflow.adapters.db import migrate
from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.stripe import samples
from tests.conftest import ClientFactory
from tests.integration.test_payment_links_and_pending_grants import payment_link_event
from tests.support import (
    ManualClock,
    api_get,
    auth,
    container,
    deliver,
    error_of,
    paid_session_event,
)

BUYERS = 520  # past the 500 a page may hold
LISTS = [
    ("/v1/events", "events"),
    ("/v1/purchases", "purchases"),
    ("/v1/pending-grants", "pending_grants"),
]


def new_buyer(number: int) -> dict[str, Any]:
    """A Payment Link purchase of its own (event, session, PaymentIntent) by an unknown e-mail."""
    return payment_link_event(
        f"buyer{number}@example.com",
        event_id=samples.new_id("evt"),
        id=samples.new_id("cs"),
        payment_intent=samples.new_id("pi"),
    )


def every_page(client: TestClient, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    before = None
    while True:
        cursor: dict[str, Any] = {} if before is None else {"before": before}
        page = api_get(client, path, **params, **cursor)
        rows += page[key]
        before = page["next_before"]
        if before is None:
            return rows
        assert before == page[key][-1]["id"]


def test_every_row_is_read_once_newest_first_page_after_page(client_for: ClientFactory) -> None:
    """BUYERS Payment Link purchases by unknown e-mails: as many events, purchases and pending
    grants. The clock stands still, so every event has the same `received_at`: only the id
    orders them, the case a cursor of time alone would get wrong."""
    client = client_for(clock=ManualClock())
    for number in range(BUYERS):
        response = deliver(client, new_buyer(number))
        assert response.json()["status"] == "processed", response.text

    for path, key in LISTS:
        rows = every_page(client, path, key, limit=200)
        ids = [row["id"] for row in rows]
        assert len(ids) == BUYERS, path
        assert ids == sorted(set(ids), reverse=True), path  # once each, newest first
        assert api_get(client, path, limit=500)[key] == rows[:500], path
    processed = every_page(client, "/v1/events", "events", limit=300, status="processed")
    assert len(processed) == BUYERS
    assert every_page(client, "/v1/events", "events", status="failed") == []


def test_a_page_that_is_not_full_is_the_last(client_for: ClientFactory) -> None:
    client = client_for()
    deliver(client, new_buyer(0))

    for path, key in LISTS:
        page = api_get(client, path, limit=2)
        assert (len(page[key]), page["next_before"]) == (1, None)


def test_paging_on_from_an_event_the_inbox_does_not_hold_is_a_422(
    client_for: ClientFactory,
) -> None:
    client = client_for()

    response = client.get("/v1/events", params={"before": "evt_unknown"}, headers=auth())

    assert error_of(response) == (422, "invalid_request")
    assert "evt_unknown" in response.json()["error"]["message"]


@contextmanager
def statements_run(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every SELECT run on `engine` meanwhile, with its parameters, to explain afterwards."""
    run: list[tuple[str, Any]] = []

    def record(_c: Any, _cur: Any, statement: str, parameters: Any, _x: Any, _m: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            run.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield run
    finally:
        event.remove(engine, "before_cursor_execute", record)


def plan_lines(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """The plan, with every way around an index priced out on PostgreSQL: a sort or a scan left
    in it is one no index can spare. SQLite tells its plan as it is."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return [str(row[-1]) for row in rows]
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            connection.exec_driver_sql(f"SET {setting} = off")
        rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        return [str(row[0]) for row in rows]


def needs_more_than_an_index_range(line: str) -> bool:
    if "TEMP B-TREE" in line:  # SQLite sorting what the index did not give in order
        return True
    if line.startswith(("SCAN", "SEARCH")):
        return "USING INDEX" not in line and "PRIMARY KEY" not in line
    return "Seq Scan" in line or "Sort" in line


@pytest.mark.parametrize(
    "query",
    [
        "/v1/events?limit=5",
        "/v1/events?limit=5&status=processed",
        "/v1/purchases?limit=5",
        "/v1/purchases?limit=5&status=paid",
        "/v1/purchases?limit=5&user_id=user_1",
        "/v1/pending-grants?limit=5",
    ],
)
def test_each_page_is_one_index_range_first_or_next(client_for: ClientFactory, query: str) -> None:
    client = client_for()
    for number in range(6):
        deliver(client, new_buyer(number))
        deliver(client, paid_session_event(user_id="user_1"))
    engine = container(client).engine
    first = client.get(query, headers=auth()).json()

    with statements_run(engine) as run:
        response = client.get(f"{query}&before={first['next_before']}", headers=auth())

    assert response.status_code == 200, response.text
    plans = {statement: plan_lines(engine, statement, parameters) for statement, parameters in run}
    assert {s: p for s, p in plans.items() if any(map(needs_more_than_an_index_range, p))} == {}


def test_migration_0005_downgrades_to_0004_and_upgrades_again(database_url: str) -> None:
    engine = build_engine(database_url)
    try:
        command.downgrade(migrate._config(engine), "0004")
        assert migrate.current_revision(engine) == "0004"
        assert "ix_webhook_events_status_received_at" in index_names(engine)
        migrate.upgrade(engine)
        assert migrate.is_up_to_date(engine)
        assert index_names(engine) >= {
            "ix_webhook_events_received_at_id_status",  # 0006's, which took over 0005's
            "ix_webhook_events_status_received_at_id",
        }
    finally:
        migrate.upgrade(engine)
        engine.dispose()


def index_names(engine: Engine) -> set[str]:
    return {str(index["name"]) for index in inspect(engine).get_indexes("webhook_events")}
