"""Webhook deliveries through group commit (services/batched_deliveries.py) on a real database:
deliveries of one batch share a transaction and see each other in order, one that fails does
not take the others down and gets its unbatched outcome, and batches of several lanes or
processes that deadlock still answer each delivery once, correctly; a connection lost mid-batch
answers nobody but 503, and the redeliveries grant once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, func, select

from creditflow.adapters.db.tables import ledger_entries
from creditflow.adapters.db.unit_of_work import UnitOfWork
from creditflow.adapters.stripe import samples
from creditflow.bootstrap import Container, build_container
from creditflow.errors import DatabaseUnavailable
from creditflow.services.batched_deliveries import BatchedDeliveries, DeliveryBatcher, ReadDelivery
from creditflow.services.deliveries import Delivery, DeliveryResult
from creditflow.settings import WEBHOOK_PATH
from tests.faults.dead_connections import sever_before
from tests.servers import all_at_once
from tests.support import (
    assert_database_audit_clean,
    assert_ledger_matches_balances,
    derived_event,
    make_settings,
    paid_session_event,
    paid_without_credits,
    run_coroutine,
)

USERS = [f"u{i}" for i in range(8)]


@pytest.fixture
def services(database_url: str) -> Iterator[Container]:
    services = build_container(make_settings(database_url, group_commit=True))
    for user in [*USERS, "crasher"]:
        services.users.register(user, None)
    yield services
    services.close()
    assert_ledger_matches_balances(database_url)
    assert_database_audit_clean(database_url)


def batched(services: Container) -> BatchedDeliveries:
    assert services.batched_deliveries is not None
    return services.batched_deliveries


def delivery_of(event_: dict[str, Any]) -> Delivery:
    return Delivery.of(event_, json.dumps(event_), WEBHOOK_PATH)


def read(services: Container, events: Sequence[dict[str, Any]]) -> list[ReadDelivery]:
    """What the webhook route submits: each delivery with its event read."""
    deliveries = services.deliveries
    return [ReadDelivery(delivery_of(e), deliveries.interpret(e)) for e in events]


def statuses(results: Sequence[DeliveryResult | Exception]) -> list[str]:
    return [r.status.value if isinstance(r, DeliveryResult) else repr(r) for r in results]


def balances(engine: Engine) -> dict[str, int]:
    with UnitOfWork(engine) as uow:
        return {user: wallet.balance for user in USERS if (wallet := uow.wallets.get(user))}


def entry_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(ledger_entries)).scalar_one()


def unpriced(user_id: str) -> dict[str, Any]:
    """A new paid checkout no rule prices (no metadata.credits, no catalog): needs attention."""
    fresh = paid_without_credits(client_reference_id=user_id)
    fresh["id"] = samples.new_id("evt")
    fresh["data"]["object"].update(id=samples.new_id("cs"), payment_intent=samples.new_id("pi"))
    return fresh


def crash_on(engine: Engine, user_id: str) -> None:
    """Every ledger entry for `user_id` fails as it is sent: a bug meeting that one input, in a
    batch or alone (the engine is the seam, as in test_delivery_failure.py)."""

    def before_statement(_connection: Connection, *args: Any) -> None:
        statement, parameters = args[1], args[2]
        if statement.startswith("INSERT INTO ledger_entries") and user_id in str(parameters):
            raise RuntimeError(f"a bug met {user_id}")

    event.listen(engine, "before_cursor_execute", before_statement)


def test_concurrent_new_deliveries_and_ten_percent_duplicates_credit_each_payment_once(
    services: Container,
) -> None:
    events = [paid_session_event(user_id=USERS[i % len(USERS)], credits=10) for i in range(60)]
    duplicates = events[::10]  # each sent again, soon after its original
    deliveries = batched(services)

    async def everyone() -> list[DeliveryResult]:
        async with deliveries.batcher:
            sent = [deliveries.receive(delivery_of(e)) for e in [*events, *duplicates]]
            return list(await asyncio.gather(*sent))

    results = run_coroutine(everyone())

    assert statuses(results) == ["processed"] * 60 + ["duplicate"] * 6
    assert all(r.redelivered for r in results[60:])
    assert balances(services.engine) == {u: 80 if i < 4 else 70 for i, u in enumerate(USERS)}
    assert entry_count(services.engine) == 60
    assert max(deliveries.batcher.batch_sizes) > 1  # they did share transactions
    assert sum(deliveries.batcher.batch_sizes) == 66
    assert deliveries.batcher.failed_batches == 0


def test_a_redelivery_in_the_batch_of_its_original_sees_it(services: Container) -> None:
    original = paid_session_event(user_id="u0", credits=25)

    results = batched(services).batcher.run(read(services, [original, original, original]))

    assert statuses(results) == ["processed", "duplicate", "duplicate"]
    assert balances(services.engine)["u0"] == 25


def test_completed_then_async_payment_succeeded_of_one_session_in_one_batch_grant_once(
    services: Container,
) -> None:
    credits = {"credits": "300"}
    unpaid = derived_event(
        "checkout_session_completed_unpaid_delayed.json", client_reference_id="u1", metadata=credits
    )
    succeeded = derived_event(
        "checkout_session_async_payment_succeeded.json", client_reference_id="u1", metadata=credits
    )
    other = paid_session_event(user_id="u2", credits=5)

    results = batched(services).batcher.run(read(services, [unpaid, other, succeeded, succeeded]))

    assert statuses(results) == ["processed", "processed", "processed", "duplicate"]
    assert (balances(services.engine)["u1"], balances(services.engine)["u2"]) == (300, 5)
    assert batched(services).batcher.failed_batches == 0


def test_a_delivery_needing_attention_and_one_crashing_leave_the_rest_of_their_batch(
    services: Container, database_url: str
) -> None:
    crash_on(services.engine, "crasher")
    good = [paid_session_event(user_id=u, credits=7) for u in ("u3", "u4", "u5", "u6", "u7")]
    batch = [*good[:2], unpriced("u5"), good[2], paid_session_event(user_id="crasher"), *good[3:]]
    batcher = batched(services).batcher

    results = batcher.run(read(services, batch))

    assert statuses(results) == [
        *["processed"] * 2,
        "needs_attention",
        "processed",
        "failed",
        *["processed"] * 2,
    ]
    assert balances(services.engine) == {
        u: 7 if u in {"u3", "u4", "u5", "u6", "u7"} else 0 for u in USERS
    }
    assert batcher.failed_batches == 1  # the crash failed one; the unpriced one ran alone
    # Each got what it gets unbatched: the same outcome and error, recorded on its inbox row.
    unbatched = build_container(make_settings(database_url))
    try:
        crash_on(unbatched.engine, "crasher")
        again = [unpriced("u5"), paid_session_event(user_id="crasher")]
        alone = [unbatched.deliveries.receive(delivery_of(e)) for e in again]
    finally:
        unbatched.close()
    broken = [r for r in results if isinstance(r, DeliveryResult) and r.status.value != "processed"]
    assert [(r.status, r.error) for r in alone] == [(r.status, r.error) for r in broken]
    for result in broken:
        stored = services.queries.event(result.event_id)
        assert (stored.status, stored.error) == (result.status, result.error)


def test_two_processes_batches_over_the_same_wallets_in_opposite_orders_never_deadlock(
    services: Container, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's batches take its one write lock: they cannot deadlock")
    # Two processes' batchers (an engine each), batches over the same wallets in opposite
    # arrival orders, started together. Their paid deliveries are settled set-based, wallets
    # locked in user id order (services/batched_payments.py): they queue, and never meet in a
    # cycle (per delivery, in arrival order, they deadlocked and were retried in halves).
    processes = [build_container(make_settings(database_url, group_commit=True)) for _ in "ab"]
    granted = 0
    try:
        for _round in range(5):
            events = [[paid_session_event(user_id=u, credits=1) for u in USERS] for _ in "ab"]
            events[1].reverse()
            pairs = zip(processes, events, strict=True)
            answers = all_at_once([partial(batched(p).batcher.run, read(p, e)) for p, e in pairs])
            assert statuses(answers[0] + answers[1]) == ["processed"] * 2 * len(USERS)
            granted += 2
            assert balances(services.engine) == {user: granted for user in USERS}
    finally:
        for process in processes:
            process.close()
    assert [batched(p).batcher.failed_batches for p in processes] == [0, 0]
    assert entry_count(services.engine) == granted * len(USERS)


def test_a_batcher_with_two_lanes_answers_concurrent_deliveries_once(
    database_url: str, services: Container
) -> None:
    lanes = DeliveryBatcher(lambda: UnitOfWork(services.engine), services.deliveries, lanes=2)
    deliveries = BatchedDeliveries(services.deliveries, lanes)
    events = [paid_session_event(user_id=USERS[i % len(USERS)], credits=3) for i in range(48)]
    events += events[::8]

    async def everyone() -> list[DeliveryResult]:
        async with lanes:
            return list(await asyncio.gather(*(deliveries.receive(delivery_of(e)) for e in events)))

    results = run_coroutine(everyone())

    assert sorted(statuses(results)) == ["duplicate"] * 6 + ["processed"] * 48
    assert balances(services.engine) == {user: 18 for user in USERS}
    assert max(lanes.batch_sizes) > 1


@pytest.mark.parametrize(
    "step",
    ["INSERT INTO purchases", "INSERT INTO ledger_entries", "UPDATE webhook_events", "COMMIT"],
)
def test_a_connection_lost_mid_batch_answers_everybody_503_and_the_redeliveries_grant_once(
    services: Container, database_url: str, step: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the connection is severed by terminating its PostgreSQL backend")
    # Nothing is answered before its commit: the batch's transaction is lost, so is every
    # delivery in it, and Stripe's retries make it good.
    events = [paid_session_event(user_id=user, credits=4) for user in USERS[:4]]
    batcher = batched(services).batcher
    sever_before(services.engine, step, database_url)

    lost = batcher.run(read(services, events))

    assert all(isinstance(r, DatabaseUnavailable) for r in lost), lost
    assert entry_count(services.engine) == 0
    retried = batcher.run(read(services, events))
    assert statuses(retried) == ["processed"] * 4
    assert balances(services.engine) == {u: 4 if u in USERS[:4] else 0 for u in USERS}
