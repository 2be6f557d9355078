"""The batching rules of services/group_commit.py on the in-memory unit of work: no timer, the
cap, arrivals during a batch collect for the next, and a batch that fails answers nobody from
its transaction (faults are injected into the fake's wallets, never into the code under test)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from creditflow.domain.keys import grant_key, spend_key
from creditflow.domain.kinds import EntryKind
from creditflow.domain.wallet import LedgerEntry, Posted, Posting, Refused, WalletState
from creditflow.errors import DatabaseUnavailable
from creditflow.services.group_commit import PostingBatcher
from creditflow.services.posting import Outcome
from tests.fakes.memory_uow import MemoryDatabase, MemoryUnitOfWork, MemoryWallets, Tables
from tests.support import run_coroutine

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Faults:
    """What the fake's wallets do wrong, and which postings each commit made durable."""

    store_fails_with: set[str] = field(default_factory=set)  # a batch holding one of these keys
    load_misleads: set[str] = field(default_factory=set)  # a batch state that breaks `decide`
    unavailable: bool = False
    gate: threading.Event | None = None  # the first batch's load waits on it
    loading: threading.Event = field(default_factory=threading.Event)
    committed: list[list[str]] = field(default_factory=list)


class FaultyWallets(MemoryWallets):
    def __init__(self, uow: FaultyUnitOfWork, faults: Faults) -> None:
        super().__init__(uow.tables)
        self._faults = faults
        self.keys: list[str] = []

    def load_many(
        self, postings: Sequence[Posting], now: datetime | None = None
    ) -> dict[str, WalletState]:
        gate, self._faults.gate = self._faults.gate, None  # only the first load waits
        self._faults.loading.set()
        if gate is not None:
            gate.wait(5)
        if self._faults.unavailable:
            raise DatabaseUnavailable("database unavailable: OperationalError")
        states = super().load_many(postings, now)
        for posting in postings:
            if posting.key in self._faults.load_misleads:  # someone else's wallet: decide raises
                states[posting.user_id] = WalletState("someone-else", 0)
        return states

    def store_many(self, batch: Sequence[Posted]) -> list[LedgerEntry]:
        keys = [posted.entry.key for posted in batch]
        if self._faults.store_fails_with & set(keys):
            raise RuntimeError("the store failed")
        self.keys += keys
        return super().store_many(batch)

    def store(self, posted: Posted) -> LedgerEntry:
        if posted.entry.key in self._faults.store_fails_with:
            raise RuntimeError("the store failed")
        self.keys.append(posted.entry.key)
        return super().store(posted)


class FaultyUnitOfWork(MemoryUnitOfWork):
    def __init__(self, database: MemoryDatabase, faults: Faults) -> None:
        super().__init__(database)
        self._faults = faults
        self.wallets = self.faulty = FaultyWallets(self, faults)

    @property
    def tables(self) -> Tables:
        return self._tables

    def commit(self) -> None:
        super().commit()
        self._faults.committed.append(self.faulty.keys)


class World:
    def __init__(self, max_batch: int = 64) -> None:
        self.database = MemoryDatabase()
        self.faults = Faults()
        self.batcher = PostingBatcher(
            lambda: FaultyUnitOfWork(self.database, self.faults), lambda: NOW, max_batch
        )
        with self.database.units_of_work()() as uow:
            for user in ("ada", "bob"):
                uow.users.save(user, None, None, NOW)
            uow.commit()

    def balance(self, user: str) -> int:
        return self.database.tables.wallets[user].balance


def grant(user: str, credits: int, key: str) -> Posting:
    return Posting(user, credits, EntryKind.GRANT, key, grant_key(user, key), "a grant")


def spend(user: str, credits: int, key: str) -> Posting:
    return Posting(user, -credits, EntryKind.SPEND, key, spend_key(user, key), "a chat")


async def submitted(world: World, postings: Sequence[Posting]) -> list[Outcome | BaseException]:
    async with world.batcher:
        return list(
            await asyncio.gather(
                *(world.batcher.submit(p) for p in postings), return_exceptions=True
            )
        )


def test_a_lone_posting_runs_at_once_as_a_batch_of_one() -> None:
    world = World()

    (entry,) = run_coroutine(submitted(world, [grant("ada", 5, "g")]))

    assert isinstance(entry, LedgerEntry)
    assert (world.batcher.batch_sizes, world.balance("ada")) == ([1], 5)


def test_postings_arriving_while_a_batch_runs_collect_for_the_next_up_to_the_cap() -> None:
    world = World(max_batch=3)
    gate = world.faults.gate = threading.Event()

    async def scenario() -> list[Outcome | BaseException]:
        async with world.batcher:
            first = asyncio.ensure_future(world.batcher.submit(grant("ada", 10, "g")))
            await asyncio.get_running_loop().run_in_executor(None, world.faults.loading.wait, 5)
            later = [
                asyncio.ensure_future(world.batcher.submit(spend("ada", 1, f"s{i}")))
                for i in range(5)
            ]
            gate.set()
            return list(await asyncio.gather(first, *later))

    results = run_coroutine(scenario())

    assert world.batcher.batch_sizes == [1, 3, 2]
    assert [r.balance_after for r in results if isinstance(r, LedgerEntry)] == [10, 9, 8, 7, 6, 5]


def test_a_refusal_is_one_postings_answer_and_the_rest_of_its_batch_commits() -> None:
    world = World()

    results = world.batcher.run(
        [grant("ada", 3, "g"), spend("ada", 5, "big"), spend("ada", 2, "s")]
    )

    assert isinstance(results[1], Refused)
    assert world.faults.committed == [["grant:ada:g", "spend:ada:s"]]
    assert world.balance("ada") == 1


def test_a_batch_whose_store_fails_answers_nobody_from_it_and_each_posting_is_retried() -> None:
    world = World()
    world.faults.store_fails_with = {"grant:bob:bad"}
    batch = [
        grant("ada", 3, "a"),
        grant("ada", 4, "b"),
        grant("bob", 1, "bad"),
        grant("bob", 2, "c"),
    ]

    results = world.batcher.run(batch)

    # Halved, in order, down to the posting that fails alone (through the unbatched path).
    assert world.faults.committed == [["grant:ada:a", "grant:ada:b"], ["grant:bob:c"]]
    assert isinstance(results[2], RuntimeError)
    assert [r.balance_after for r in results if isinstance(r, LedgerEntry)] == [3, 7, 2]


def test_a_posting_whose_decision_raises_runs_alone_and_the_others_around_it_batch() -> None:
    world = World()
    world.faults.load_misleads = {"grant:bob:odd"}
    batch = [
        grant("ada", 3, "a"),
        grant("bob", 1, "odd"),
        grant("ada", 4, "b"),
        grant("bob", 2, "c"),
    ]

    results = world.batcher.run(batch)

    # The batch around it, then it alone (its own load is right), then the rest: arrival order.
    assert world.faults.committed == [
        ["grant:ada:a"],
        ["grant:bob:odd"],
        ["grant:ada:b", "grant:bob:c"],
    ]
    assert [r.balance_after for r in results if isinstance(r, LedgerEntry)] == [3, 1, 7, 3]


def test_an_unreachable_database_is_every_postings_answer_and_nothing_commits() -> None:
    world = World()
    world.faults.unavailable = True

    results = run_coroutine(submitted(world, [grant("ada", 3, "a"), grant("bob", 1, "b")]))

    assert all(isinstance(r, DatabaseUnavailable) for r in results)
    assert world.faults.committed == []


def test_a_caller_that_went_away_leaves_its_posting_and_the_others_standing() -> None:
    world = World()
    gate = world.faults.gate = threading.Event()

    async def scenario() -> Outcome:
        async with world.batcher:
            gone = asyncio.ensure_future(world.batcher.submit(grant("ada", 5, "g")))
            await asyncio.get_running_loop().run_in_executor(None, world.faults.loading.wait, 5)
            stays = asyncio.ensure_future(world.batcher.submit(grant("bob", 2, "g")))
            gone.cancel()
            gate.set()
            return await stays

    assert isinstance(run_coroutine(scenario()), LedgerEntry)
    assert (world.balance("ada"), world.balance("bob")) == (5, 2)


def test_a_batch_holds_at_least_one_posting() -> None:
    with pytest.raises(ValueError, match="at least one"):
        PostingBatcher(MemoryDatabase().units_of_work(), lambda: NOW, max_batch=0)


def test_a_posting_submitted_once_the_batcher_is_closed_is_refused_not_left_waiting() -> None:
    world = World()

    async def scenario() -> None:
        await world.batcher.close()
        with pytest.raises(RuntimeError, match="shutdown"):
            await asyncio.wait_for(world.batcher.submit(grant("ada", 1, "late")), 5)

    run_coroutine(scenario())
    assert world.faults.committed == []


def test_with_two_lanes_a_posting_arriving_during_a_batch_runs_at_once_in_the_other() -> None:
    world = World()
    world.batcher = PostingBatcher(
        lambda: FaultyUnitOfWork(world.database, world.faults), lambda: NOW, lanes=2
    )
    gate = world.faults.gate = threading.Event()

    async def scenario() -> Outcome:
        async with world.batcher:
            first = asyncio.ensure_future(world.batcher.submit(grant("ada", 10, "g")))
            await asyncio.get_running_loop().run_in_executor(None, world.faults.loading.wait, 5)
            # The first lane waits in its load; the second commits this one meanwhile.
            second = await asyncio.wait_for(world.batcher.submit(grant("bob", 2, "g")), 5)
            assert world.faults.committed == [["grant:bob:g"]]
            gate.set()
            await first
            return second

    # (The memory tables are one transaction at a time: what two lanes leave there is the
    # integration tests' to say, on real databases.)
    assert isinstance(run_coroutine(scenario()), LedgerEntry)
    assert world.batcher.batch_sizes == [1, 1]
    assert world.faults.committed == [["grant:bob:g"], ["grant:ada:g"]]
