"""The benchmark harness is right before it is fast: the seeder writes a database the audit
passes, the hot-wallet check catches overselling, the plan capture runs each statement once,
and the fake Events API pages like Stripe's. Correctness only, never timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from bench.scale.explain import explaining
from bench.scale.seed import HEAVY, SeedPlan, add_unclaimed_pending, seed
from bench.scale.stripe_events import EVENT_TYPE, paid_sessions, serving
from bench.spend.check import Answers, HotWallet, hot_wallet_problems, read_hot_wallet
from creditflow.adapters.db.audit import INVARIANTS, breaches
from creditflow.adapters.db.tables import ledger_entries
from creditflow.adapters.stripe.client import make_client
from creditflow.adapters.stripe.gateway import StripeGateway
from creditflow.bootstrap import build_container
from tests.support import make_settings


def audit_breaches(url: str) -> dict[str, list[str]]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        found = {i.name: breaches(connection, i) for i in INVARIANTS}
    engine.dispose()
    return {name: rows for name, rows in found.items() if rows}


@pytest.mark.postgres_only
def test_the_seeded_database_passes_the_audit_and_stays_usable(postgres_url: str) -> None:
    engine = create_engine(postgres_url, poolclass=NullPool)
    with engine.begin() as connection:
        seed(connection, SeedPlan(users=50, entries=1000, funding=100, extra_wallets=(("hot", 7),)))
        add_unclaimed_pending(connection, "newcomer@bench.example", 5)
    with engine.connect() as connection:
        heavy = connection.execute(
            select(func.count()).where(ledger_entries.c.user_id == HEAVY)
        ).scalar_one()
        hot = read_hot_wallet(connection, "hot", 7)
    engine.dispose()
    assert heavy == 500 + 1  # half the history, then its funding
    assert hot == HotWallet(funding=7, balance=7, spent=0, spends=0)
    assert audit_breaches(postgres_url) == {}

    container = build_container(make_settings(postgres_url))
    try:  # the sequences moved past the seeded ids: new rows fit in
        assert container.wallets.spend(HEAVY, 30, "k1", "use").balance == 70
        assert container.wallets.grant("u1", 5, "k2", "gift", None).balance == 105
        registration = container.users.register("newcomer", "newcomer@bench.example")
        assert (len(registration.claimed), registration.balance) == (5, 5)
    finally:
        container.close()
    assert audit_breaches(postgres_url) == {}


def test_the_hot_wallet_check_catches_overselling_and_answers_that_disagree() -> None:
    fine = HotWallet(funding=10, balance=0, spent=10, spends=10)
    assert hot_wallet_problems(fine, Answers(ok=9, refused=500, other=0, connections=2)) == []
    oversold = HotWallet(funding=10, balance=-2, spent=12, spends=12)
    assert any("oversold" in p for p in hot_wallet_problems(oversold, Answers(12, 5, 0, 2)))
    drifted = HotWallet(funding=10, balance=3, spent=8, spends=8)
    assert any("balance" in p for p in hot_wallet_problems(drifted, Answers(8, 0, 0, 2)))
    refused_early = HotWallet(funding=10, balance=4, spent=6, spends=6)
    assert any("402" in p for p in hot_wallet_problems(refused_early, Answers(6, 1, 0, 2)))
    lost = HotWallet(funding=10, balance=5, spent=5, spends=5)
    assert any("in the ledger" in p for p in hot_wallet_problems(lost, Answers(6, 0, 0, 2)))
    assert any("neither" in p for p in hot_wallet_problems(fine, Answers(10, 0, 3, 2)))


@pytest.mark.postgres_only
def test_explaining_an_operation_runs_it_once_and_names_the_seq_scans(postgres_url: str) -> None:
    engine = create_engine(postgres_url, poolclass=NullPool)
    with engine.begin() as connection:
        seed(connection, SeedPlan(users=5, entries=20, funding=100))
    engine.dispose()
    container = build_container(make_settings(postgres_url))
    try:
        with explaining(container.engine) as capture:
            container.wallets.spend(HEAVY, 1, "once", "use")
            with container.engine.connect() as connection:  # no index holds `reason`
                connection.execute(text("SELECT count(*) FROM ledger_entries WHERE reason = 'x'"))
        assert container.queries.wallet(HEAVY).balance == 99
    finally:
        container.close()
    assert len(capture.plans) > 5
    assert all("Execution Time" in plan.text for plan in capture.plans)
    assert capture.seq_scans_on() == ["ledger_entries"]
    assert audit_breaches(postgres_url) == {}


def test_the_fake_events_api_pages_like_stripe() -> None:
    events = paid_sessions(["u1", "u2"], 250)
    with serving(events) as url:
        gateway = StripeGateway(make_client("sk_test_bench", url))
        since = datetime.now(UTC) - timedelta(days=1)
        listed = list(gateway.events([EVENT_TYPE, "charge.refunded"], since=since))
    assert [event["id"] for event in listed] == [event["id"] for event in events]
