"""Behind PgBouncer in transaction pooling mode (README, "Behind PgBouncer"): exactly once holds
and prepared statements do not break.

Two server processes reach the database through a PgBouncer of the test's own
(tests/pgbouncer.py) with fewer server connections than the processes open, so consecutive
transactions of one process connection run on different backends. Row locks, unique keys and
transaction-scoped advisory locks live in a transaction, so transaction pooling keeps them;
what it breaks is session state, and the one creditflow would have is psycopg's prepared
statements (after a statement's 5th run on a connection), hence CREDITFLOW_DB_PREPARED_STATEMENTS.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.stripe import samples
from tests.conftest import POSTGRES_SERVER_URL
from tests.faults.payments import assert_credited_exactly_once, new_payments
from tests.faults.stripe_like import Answer
from tests.pgbouncer import (
    PREPARES_ITSELF,
    PgBouncer,
    pgbouncer_version,
    running_pgbouncer,
    why_unavailable,
)
from tests.servers import all_at_once, server_processes
from tests.support import (
    assert_database_audit_clean,
    assert_ledger_matches_balances,
    balance,
    deliver,
    grant,
    register,
    server_environment,
    spend,
    story,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

PSYCOPG_PREPARES_AFTER = 5  # psycopg's default prepare_threshold
USERS = [f"user_{n}" for n in range(4)]


@pytest.fixture
def bouncer() -> Iterator[PgBouncer]:
    reason = why_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with running_pgbouncer(POSTGRES_SERVER_URL, server_connections=3) as running:
        yield running


@pytest.fixture
def bounced_url(bouncer: PgBouncer, postgres_url: str) -> str:
    return bouncer.url_for(postgres_url)


def same_statement_in_many_transactions(url: str, *, prepared_statements: bool) -> list[str]:
    """8 connections, each running one statement in 4 x psycopg's threshold transactions; the
    errors met."""
    engine = build_engine(url, pool_size=8, prepared_statements=prepared_statements)
    errors: list[str] = []

    def run() -> None:
        try:
            with engine.connect() as connection:
                for n in range(4 * PSYCOPG_PREPARES_AFTER):
                    with connection.begin():
                        connection.execute(text("SELECT CAST(:n AS integer) + 1"), {"n": n})
        except ProgrammingError as exc:
            errors.append(type(exc.orig).__name__)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    return errors


def test_prepared_statements_off_nothing_breaks_behind_transaction_pooling(
    bounced_url: str,
) -> None:
    assert same_statement_in_many_transactions(bounced_url, prepared_statements=False) == []


def test_before_1_21_psycopgs_prepared_statements_break_behind_transaction_pooling(
    bounced_url: str,
) -> None:
    """Why the setting exists: PgBouncer before 1.21 does not know about prepared statements."""
    version = pgbouncer_version()
    print(f"PgBouncer {'.'.join(map(str, version))}")
    if version >= PREPARES_ITSELF:
        pytest.skip("PgBouncer >= 1.21 can track prepared statements (max_prepared_statements)")
    errors = same_statement_in_many_transactions(bounced_url, prepared_statements=True)
    assert errors, "prepared statements survived transaction pooling"
    assert set(errors) <= {"DuplicatePreparedStatement", "InvalidSqlStatementName"}


@pytest.fixture(params=[False, True], ids=["one-transaction-each", "group-commit"])
def servers(
    request: pytest.FixtureRequest, bounced_url: str, postgres_url: str, tmp_path: Path
) -> Iterator[list[str]]:
    """Two server processes configured as the README says for PgBouncer, with small pools (each
    connection runs every statement many times)."""
    env = {
        **server_environment(bounced_url),
        "CREDITFLOW_DB_PREPARED_STATEMENTS": "false",
        "CREDITFLOW_DB_POOL_SIZE": "2",
        "CREDITFLOW_GROUP_COMMIT": str(request.param).lower(),
    }
    with server_processes(2, env, tmp_path) as urls:
        yield urls
    assert_database_audit_clean(postgres_url)
    assert_ledger_matches_balances(postgres_url)


def send(url: str, event: dict[str, object]) -> Answer:
    with httpx.Client(base_url=url, timeout=60) as client:
        return Answer.of(str(event["id"]), deliver(client, event))


def test_concurrent_deliveries_of_each_payment_from_two_processes_grant_it_once(
    servers: list[str], postgres_url: str
) -> None:
    rng = random.Random(16)
    with httpx.Client(base_url=servers[0], timeout=30) as client:
        for user_id in USERS:
            register(client, user_id)
    payments = new_payments(rng, USERS, 20)
    events = []
    for payment in payments:  # each payment three times over, and announced by a second event
        completed = samples.event("checkout.session.completed", payment.session)
        succeeded = samples.event("checkout.session.async_payment_succeeded", payment.session)
        events += [completed, completed, completed, succeeded]
    calls = [partial(send, servers[n % 2], event) for n, event in enumerate(events)]

    answers = all_at_once(calls)

    assert {answer.status for answer in answers} == {200}
    assert_credited_exactly_once(postgres_url, payments, answers)


def spend_at(url: str, key: str) -> tuple[int, int, bool]:
    """A spend of 7 under `key`: status, the entry's id, whether it was a replay."""
    with httpx.Client(base_url=url, timeout=60) as client:
        response = spend(client, "user_0", 7, key)
    body = response.json()
    return response.status_code, body["entry"]["id"], body["replayed"]


def test_concurrent_spends_with_the_same_key_from_two_processes_spend_once(
    servers: list[str],
) -> None:
    with httpx.Client(base_url=servers[0], timeout=30) as client:
        register(client, "user_0")
        assert grant(client, "user_0", 1000, "funding").status_code == 200
    keys = [f"spend-{n}" for n in range(30)]
    attempts = [(servers[n % 2], key) for n in range(4) for key in keys]  # 2 per process

    answers = all_at_once([partial(spend_at, url, key) for url, key in attempts])
    # Then one after another on each process's kept connections: every statement of a spend
    # (and of a replay) runs on one connection more often than psycopg's threshold.
    later = [spend_at(url, f"{key}-{url[-5:]}") for url in servers for key in keys[:12]]
    replays = [spend_at(url, key) for url in servers for key in keys[:12]]

    assert {status for status, _, _ in [*answers, *later, *replays]} == {200}
    by_key: dict[str, set[int]] = {}
    fresh: Counter[str] = Counter()
    for (_, entry, replayed), (_, key) in zip(answers, attempts, strict=True):
        by_key.setdefault(key, set()).add(entry)
        fresh[key] += not replayed
    assert {key for key, entries in by_key.items() if len(entries) != 1} == set()
    assert set(fresh.values()) == {1}, "a key spent more than once, or never"
    assert all(replayed for _, _, replayed in replays)
    with httpx.Client(base_url=servers[1], timeout=30) as client:
        assert balance(client, "user_0") == 1000 - 7 * (len(keys) + len(later))
        assert Counter(kind for kind, _ in story(client, "user_0")) == {
            "grant": 1,
            "spend": len(keys) + len(later),
        }
