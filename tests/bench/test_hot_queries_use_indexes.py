"""Each hot query has an index that can answer it: with sequential scans priced out, none of
them reads ledger_entries, credit_lots, purchases or pending_grants whole. (A partial index whose
predicate the query does not imply could not be used, and would show up here as a seq scan.)
`make bench-scale` checks the planner's real choices at a million rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from bench.scale.explain import explaining
from bench.scale.operations import explained_operations
from bench.scale.seed import HEAVY, SeedPlan, add_unclaimed_pending, seed
from creditflow.adapters.db.tables import holds
from creditflow.bootstrap import build_container
from creditflow.domain.holds import HoldStatus
from creditflow.domain.operator_views import HoldCursor
from tests.support import make_settings

NOW = datetime(2026, 12, 3, tzinfo=UTC)


@pytest.mark.postgres_only
def test_no_hot_query_needs_a_seq_scan_of_a_growing_table(postgres_url: str) -> None:
    engine = create_engine(postgres_url, poolclass=NullPool)
    with engine.begin() as connection:
        seed(connection, SeedPlan(users=20, entries=400, funding=100))
        add_unclaimed_pending(connection, "newcomer@bench.example", 3)
    engine.dispose()
    container = build_container(make_settings(postgres_url))

    @event.listens_for(container.engine, "connect")
    def _no_seq_scans(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
        dbapi_connection.commit()  # or the pool's reset rolls the setting back

    try:
        container.engine.dispose()  # connections from here on get the setting
        operations = explained_operations(container, users=20, entries=400)
        operations["claim pending grants"] = lambda: container.users.register(
            "newcomer", "newcomer@bench.example"
        )
        scans = {}
        for name, call in operations.items():
            with explaining(container.engine) as capture:
                call()
            scans[name] = capture.seq_scans_on()
    finally:
        container.close()
    assert {name: found for name, found in scans.items() if found} == {}


@pytest.mark.postgres_only
def test_a_ledger_page_of_a_big_wallet_reads_only_its_own_entries(postgres_url: str) -> None:
    """HEAVY holds half the entries and every other wallet's funding comes after its last one:
    walking the primary key backwards would filter all of those out first."""
    engine = create_engine(postgres_url, poolclass=NullPool)
    with engine.begin() as connection:
        seed(connection, SeedPlan(users=300, entries=4000, funding=100))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE ledger_entries"))  # the planner knows HEAVY is big
    engine.dispose()
    container = build_container(make_settings(postgres_url))
    try:
        with explaining(container.engine) as capture:
            page = container.queries.ledger(HEAVY, limit=50, before_id=None)
    finally:
        container.close()
    assert [entry.user_id for entry in page] == [HEAVY] * 50
    [plan] = [plan for plan in capture.plans if "FROM ledger_entries" in plan.statement]
    assert "Rows Removed by Filter" not in plan.text, plan.text


@pytest.mark.postgres_only
def test_a_scrape_after_the_first_reads_only_the_recent_entries_and_only_from_the_index(
    postgres_url: str,
) -> None:
    """The seeded history is days old; three grants are made now. With the planner free to
    choose, the metrics counters read those three index entries and not one row of the table."""
    engine = create_engine(postgres_url, poolclass=NullPool)
    with engine.begin() as connection:
        seed(connection, SeedPlan(users=300, entries=4000, funding=100))
    engine.dispose()
    container = build_container(make_settings(postgres_url))
    try:
        for n in range(3):
            container.wallets.grant(HEAVY, 1, f"recent-{n}", "bench", None)
        with container.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
            db.execute(text("VACUUM ANALYZE ledger_entries"))  # as autovacuum would have by now
        container.ledger_totals.read()  # the first scrape: the whole history, once
        with explaining(container.engine) as capture:
            totals = container.ledger_totals.read()
    finally:
        container.close()
    [plan] = [plan for plan in capture.plans if "FROM ledger_entries" in plan.statement]
    scan = RECENT_RANGE.search(plan.text)
    assert scan is not None, plan.text
    assert int(scan.group(1)) == 3, plan.text  # index entries read: the recent ones only
    assert "Index Cond: (created_at >= " in plan.text, plan.text
    assert (totals.purchase_grants.entries, totals.spends.entries) == (2000, 2000)
    assert (totals.promotional_grants.entries, totals.promotional_grants.credits) == (304, 30103)


RECENT_RANGE = re.compile(
    r"Index Only Scan using ix_ledger_entries_created_at_kind_delta on ledger_entries .*"
    r"\(actual time=[\d.]+\.\.[\d.]+ rows=(\d+)"
)


@pytest.mark.postgres_only
def test_the_consoles_holds_lists_read_a_page_in_index_order(postgres_url: str) -> None:
    """Newest first, by any status or none, first page or later: each page reads a range of
    holds(created_at, id) or (status, created_at, id) and stops after its 51 rows (`expired`
    merges two such ranges), never every hold of the table or of the status to sort them.
    Sequential and bitmap scans are priced out: at 400 rows they win, at a million they do not."""
    engine = create_engine(postgres_url, poolclass=NullPool)
    with engine.begin() as connection:
        seed(connection, SeedPlan(users=20, entries=40, funding=100))
        connection.execute(
            holds.insert(),
            [
                {
                    "id": f"hold_{n}",
                    "user_id": HEAVY,
                    "credits": 1,
                    "status": ("held", "captured", "voided", "expired")[n % 4],
                    "idempotency_key": f"hold:{n}",
                    "reason": "a job",
                    "expires_at": NOW + timedelta(minutes=n % 3 - 1),
                    "created_at": NOW - timedelta(seconds=n),
                }
                for n in range(400)
            ],
        )
        connection.execute(text("ANALYZE holds"))
    engine.dispose()
    container = build_container(make_settings(postgres_url), clock=lambda: NOW)
    cursor = HoldCursor(NOW - timedelta(seconds=100), "hold_100")

    @event.listens_for(container.engine, "connect")
    def _no_seq_scans(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("SET enable_bitmapscan = off")
        dbapi_connection.commit()

    try:
        with explaining(container.engine) as capture:
            for status in (None, *HoldStatus):
                for after in (None, cursor):
                    container.console.holds(status, user_id=None, after=after, limit=50)
    finally:
        container.close()
    read = [
        int(rows)
        for plan in capture.plans
        for rows in re.findall(r"Scan\b.* on holds\b.*actual time=\S+ rows=(\d+)", plan.text)
    ]
    assert len(capture.plans) == 10
    assert max(read) <= 51
