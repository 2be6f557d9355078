"""The ceiling experiment (bench/ceiling) measures a fair rival only while its one statement
writes what creditflow writes for the benchmark's delivery: the same rows in every table (ids,
times and the run's own tokens aside), a clean audit, and a re-send that grants nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from bench.ceiling.statement import FULFIL, parameters
from bench.webhook import payments
from bench.webhook.databases import bench_settings, register_users
from creditflow.adapters.db import migrate
from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.db.tables import metadata
from creditflow.adapters.stripe.signatures import verify_and_parse
from creditflow.bootstrap import build_container
from creditflow.services.deliveries import Delivery
from creditflow.settings import WEBHOOK_PATH
from tests.conftest import scratch_postgres_database

VARYING = {"id", "purchase_id", "created_at", "updated_at", "credited_at", "received_at"}
VARYING |= {"processed_at", "idempotency_key"}


@pytest.fixture
def two_databases() -> Iterator[tuple[str, str]]:
    with (
        scratch_postgres_database("ceiling_creditflow") as ours,
        scratch_postgres_database("ceiling_statement") as theirs,
    ):
        for url in (ours, theirs):
            engine = build_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
            register_users(url, 3)
        yield ours, theirs


def test_the_one_statement_writes_what_creditflow_writes(two_databases: tuple[str, str]) -> None:
    ours, theirs = two_databases
    sent = [payments.new_payment(user, token=f"p{n}") for n, user in enumerate((0, 1, 1))]
    sent.append(sent[0])  # a re-send: counted, granted nothing
    deliveries = [_delivery(payment.body) for payment in sent]

    container = build_container(bench_settings(ours))
    try:
        answers = [container.deliveries.receive(d).status.value for d in deliveries]
    finally:
        container.close()
    engine = create_engine(theirs)
    with engine.begin() as connection:
        firsts = [
            connection.exec_driver_sql(FULFIL, parameters(d.event, d.payload, d.endpoint)).one()
            for d in deliveries
        ]
    engine.dispose()

    assert answers == ["processed", "processed", "processed", "duplicate"]
    assert [bool(first) for first, _granted in firsts] == [True, True, True, False]
    assert _contents(theirs) == _contents(ours)
    for url in (ours, theirs):
        assert _breaches(url) == []


def _delivery(body: bytes) -> Delivery:
    settings = bench_settings("sqlite://")
    event = verify_and_parse(body, payments.signed(body), settings.webhook_secrets, 60)
    return Delivery(event["id"], event["type"], False, body.decode(), event, WEBHOOK_PATH)


def _contents(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows, sorted, without the columns that differ between any two runs."""
    engine = create_engine(url)
    with engine.connect() as connection:
        contents = {
            table.name: sorted(
                (
                    {k: v for k, v in row._mapping.items() if k not in VARYING}
                    for row in connection.execute(select(table))
                ),
                key=repr,
            )
            for table in metadata.sorted_tables
        }
    engine.dispose()
    return contents


def _breaches(url: str) -> list[str]:
    container = build_container(bench_settings(url))
    try:
        return [breach for finding in container.audit.run() for breach in finding.breaches]
    finally:
        container.close()
