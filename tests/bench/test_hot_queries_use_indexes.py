"""Each hot query has an index that can answer it: with sequential scans priced out, none of
them reads ledger_entries, credit_lots, purchases or pending_grants whole. (A partial index whose
predicate the query does not imply could not be used, and would show up here as a seq scan.)
`make bench-scale` checks the planner's real choices at a million rows."""

from __future__ import annotations

from typing import Any

import pytest
from bench.scale.explain import explaining
from bench.scale.operations import explained_operations
from bench.scale.seed import SeedPlan, add_unclaimed_pending, seed
from sqlalchemy import create_engine, event
from sqlalchemy.pool import NullPool

from creditflow.bootstrap import build_container
from tests.support import make_settings


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
