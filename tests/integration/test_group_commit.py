"""Group commit on a real database (services/group_commit.py, wallet_batches.py): a batch is one
transaction whose postings see each other in order, a refusal is one posting's answer, and a
batch that fails is retried so each posting gets what it would have had unbatched."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DataError

from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.db.tables import ledger_entries
from creditflow.adapters.db.unit_of_work import UnitOfWork
from creditflow.domain.keys import grant_key, spend_key
from creditflow.domain.kinds import EntryKind
from creditflow.domain.wallet import Conflicting, LedgerEntry, Posting, Refused, Replayed
from creditflow.errors import NotFound
from creditflow.services.group_commit import PostingBatcher
from creditflow.services.holds import HoldService
from creditflow.services.posting import post_or_explain
from tests.support import assert_database_audit_clean, assert_ledger_matches_balances, run_coroutine

NOW = datetime(2026, 1, 1, tzinfo=UTC)
USERS = ("ada", "bob", "cy")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url)
    with UnitOfWork(engine) as uow:
        for user in USERS:
            uow.users.save(user, None, None, NOW)
        uow.commit()
    yield engine
    engine.dispose()
    assert_ledger_matches_balances(database_url)
    assert_database_audit_clean(database_url)


@pytest.fixture
def batcher(engine: Engine) -> PostingBatcher:
    return PostingBatcher(lambda: UnitOfWork(engine), lambda: NOW)


def grant(user: str, credits: int, key: str) -> Posting:
    return Posting(user, credits, EntryKind.GRANT, key, grant_key(user, key), "a grant")


def spend(user: str, credits: int, key: str) -> Posting:
    return Posting(user, -credits, EntryKind.SPEND, key, spend_key(user, key), "a chat")


def balances(engine: Engine) -> dict[str, int]:
    with UnitOfWork(engine) as uow:
        return {user: wallet.balance for user in USERS if (wallet := uow.wallets.get(user))}


def deltas(results: Sequence[object]) -> list[object]:
    """Each result as the credits it moved, or its kind of answer."""
    return [r.delta if isinstance(r, LedgerEntry) else type(r).__name__ for r in results]


def test_a_batch_posts_to_distinct_wallets_in_one_transaction(
    engine: Engine, batcher: PostingBatcher
) -> None:
    results = batcher.run([grant("ada", 10, "g"), grant("bob", 7, "g"), grant("cy", 1, "g")])

    assert deltas(results) == [10, 7, 1]
    assert balances(engine) == {"ada": 10, "bob": 7, "cy": 1}


def test_postings_to_one_wallet_in_a_batch_see_each_other_in_order(
    engine: Engine, batcher: PostingBatcher
) -> None:
    results = batcher.run(
        [grant("ada", 10, "g"), spend("ada", 4, "s1"), spend("ada", 6, "s2"), spend("ada", 1, "s3")]
    )

    assert deltas(results) == [10, -4, -6, "Refused"]
    assert [r.balance_after for r in results if isinstance(r, LedgerEntry)] == [10, 6, 0]
    ids = [r.id for r in results if isinstance(r, LedgerEntry)]
    assert ids == sorted(ids)
    assert min(ids) >= 1
    with UnitOfWork(engine) as uow:
        assert [lot.remaining for lot in uow.wallets.load("ada").lots] == []


def test_a_spend_taking_from_a_lot_opened_earlier_in_its_batch_and_an_older_one(
    engine: Engine, batcher: PostingBatcher
) -> None:
    batcher.run([grant("ada", 5, "old")])

    batcher.run([grant("ada", 10, "new"), spend("ada", 12, "s"), grant("ada", 2, "later")])

    with UnitOfWork(engine) as uow:
        lots = sorted(lot.remaining for lot in uow.wallets.load("ada").lots)
    assert (balances(engine)["ada"], sum(lots)) == (5, 5)


def test_a_key_replayed_inside_a_batch_answers_the_entry_stored_for_its_original(
    batcher: PostingBatcher,
) -> None:
    results = batcher.run(
        [grant("ada", 10, "g"), spend("ada", 3, "s"), spend("ada", 3, "s"), spend("ada", 4, "s")]
    )

    first, replay, conflict = results[1:]
    assert isinstance(first, LedgerEntry)
    assert isinstance(replay, Replayed)
    assert replay.original == first
    assert isinstance(conflict, Conflicting)
    assert conflict.original == first


def test_a_key_committed_before_the_batch_is_replayed_from_the_database(
    batcher: PostingBatcher,
) -> None:
    (first,) = batcher.run([grant("ada", 10, "g")])

    (again,) = batcher.run([grant("ada", 10, "g")])

    assert isinstance(again, Replayed)
    assert again.original == first


def test_insufficient_credits_or_an_unknown_wallet_refuse_one_posting_not_the_batch(
    engine: Engine, batcher: PostingBatcher
) -> None:
    batcher.run([grant("ada", 5, "g"), grant("bob", 5, "g")])

    results = batcher.run([spend("ada", 9, "big"), spend("nobody", 1, "s"), spend("bob", 2, "s")])

    assert isinstance(results[0], Refused)
    assert results[0].balance == 5
    assert isinstance(results[1], NotFound)
    assert deltas(results)[2] == -2
    assert balances(engine) == {"ada": 5, "bob": 3, "cy": 0}


def test_a_failed_batch_is_retried_and_each_posting_answered_as_it_would_be_unbatched(
    engine: Engine, batcher: PostingBatcher
) -> None:
    # Two wallets' postings under one ledger key: the batch decides both (each wallet's load
    # finds no entry under it), and the unique index fails the batch's store. Unbatched, the
    # second would find the first's entry under its key: a conflict.
    shared = Posting("bob", 3, EntryKind.GRANT, "g", grant_key("ada", "g"), "a grant")
    batch = [grant("ada", 10, "g"), grant("cy", 1, "g"), shared, grant("bob", 2, "other")]

    results = batcher.run(batch)

    assert deltas(results) == [10, 1, "Conflicting", 2]
    assert batcher.failed_batches == 1
    assert balances(engine) == {"ada": 10, "bob": 2, "cy": 1}
    with UnitOfWork(engine) as uow:
        unbatched = post_or_explain(uow, shared, NOW)
    assert isinstance(unbatched, Conflicting)
    assert unbatched == results[2]


def test_a_posting_the_database_refuses_breaks_only_itself(
    engine: Engine, batcher: PostingBatcher
) -> None:
    # A reference longer than its column: PostgreSQL refuses the entry at the store, failing
    # the batch; SQLite stores it. Either way the others commit, and it gets what it would get
    # alone: the same error, or its entry.
    too_long = Posting("bob", 1, EntryKind.GRANT, "r" * 300, grant_key("bob", "long"), "a grant")

    results = batcher.run([grant("ada", 10, "g"), too_long, grant("cy", 1, "g")])

    assert deltas(results)[::2] == [10, 1]
    if engine.dialect.name == "postgresql":
        assert isinstance(results[1], DataError)
        with pytest.raises(DataError), UnitOfWork(engine) as uow:
            post_or_explain(uow, too_long, NOW)
        assert balances(engine) == {"ada": 10, "bob": 0, "cy": 1}
    else:
        assert deltas(results)[1] == 1


@pytest.mark.parametrize("lanes", [1, 2])
def test_many_concurrent_submits_on_a_hot_wallet_never_oversell(engine: Engine, lanes: int) -> None:
    batcher = PostingBatcher(lambda: UnitOfWork(engine), lambda: NOW, lanes=lanes)
    batcher.run([grant("ada", 100, "g")])
    rng = random.Random(16)
    spends = [spend("ada", rng.randint(1, 5), f"s{i}") for i in range(80)]

    async def everyone() -> list[object]:
        async with batcher:
            return list(await asyncio.gather(*(batcher.submit(s) for s in spends)))

    results = run_coroutine(everyone())

    taken = sum(-r.delta for r in results if isinstance(r, LedgerEntry))
    assert taken == 100 - balances(engine)["ada"]
    assert balances(engine)["ada"] >= 0
    assert any(isinstance(r, Refused) for r in results)
    assert max(batcher.batch_sizes) > 1  # they did share transactions
    with UnitOfWork(engine) as uow:
        count = uow.connection.execute(select(func.count()).select_from(ledger_entries))
        assert count.scalar_one() == 1 + sum(isinstance(r, LedgerEntry) for r in results)


def test_batchers_of_several_processes_sharing_wallets_neither_deadlock_nor_oversell(
    engine: Engine, database_url: str
) -> None:
    # Each thread is a process's batcher on its own engine and event loop; their batches hold
    # the same wallets in different arrival orders, and lock them in one order.
    first = PostingBatcher(lambda: UnitOfWork(engine), lambda: NOW)
    first.run([grant(user, 60, "g") for user in USERS])
    outcomes: list[object] = []
    failed: list[int] = []

    def process(seed: int) -> None:
        own = build_engine(database_url)
        batcher = PostingBatcher(lambda: UnitOfWork(own), lambda: NOW, max_batch=8, lanes=2)
        rng = random.Random(seed)
        spends = [spend(rng.choice(USERS), rng.randint(1, 4), f"p{seed}-{i}") for i in range(40)]

        async def submit_all() -> list[object]:
            async with batcher:
                return list(await asyncio.gather(*(batcher.submit(s) for s in spends)))

        try:
            outcomes.extend(run_coroutine(submit_all()))
            failed.append(batcher.failed_batches)
        finally:
            own.dispose()

    threads = [threading.Thread(target=process, args=(seed,)) for seed in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(outcomes) == 120
    taken = sum(-r.delta for r in outcomes if isinstance(r, LedgerEntry))
    assert taken == 3 * 60 - sum(balances(engine).values())
    assert all(isinstance(r, LedgerEntry | Refused) for r in outcomes)
    assert failed == [0, 0, 0]  # no batch met a deadlock (and was retried in parts)


def test_a_batched_spend_may_use_only_what_live_holds_leave_available(
    engine: Engine, batcher: PostingBatcher
) -> None:
    clock = [NOW]
    holds = HoldService(lambda: UnitOfWork(engine), lambda: clock[0])
    batcher.run([grant("ada", 10, "g"), grant("bob", 10, "g")])
    holds.open("ada", 7, "job", "a long job", expires_in_seconds=600)
    clock[0] = NOW - timedelta(seconds=600)
    holds.open("bob", 7, "old job", "a job that timed out", expires_in_seconds=1)  # long expired

    results = batcher.run([spend("ada", 4, "s1"), spend("ada", 3, "s2"), spend("bob", 10, "s")])

    assert deltas(results) == ["Refused", -3, -10]
    assert balances(engine) == {"ada": 7, "bob": 0, "cy": 0}
