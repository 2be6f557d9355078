"""Group commit: operations that arrive together share one transaction (issue 16).

A process's operations of one kind queue on one `Batcher`. While a batch is in its transaction,
new arrivals collect for the next; there is no timer, so a lone operation runs at once, as a
batch of one, and under load batches grow by themselves, up to `max_batch`. What a batch is
differs by kind: `PostingBatcher` (here) for /v1 spends and grants, `DeliveryBatcher`
(services/batched_deliveries.py) for webhook deliveries. Each says how to run a batch in one
committed transaction and how to run one operation alone, exactly as unbatched; the queue, the
lanes and the isolation are this module's.

A posting batch, run in the batcher's own thread: load every wallet of the batch in set-based
statements (locked in user id order), decide each posting in arrival order on the in-memory
state (two postings to one wallet see each other, a replayed key its original), store every
change in set-based statements, commit once; then every caller is answered.

Isolation (docs/design.md, no caller is answered before its commit):
- a refusal (insufficient credits, a replayed or conflicting key, no such wallet, a delivery
  that needs attention) is that operation's result; the others commit;
- if the batch's transaction fails, nobody is answered from it. An operation known to be the one
  that broke it (`Broke`) is run alone, and those before it and after it are retried as
  batches. When the failure names no operation (a deadlock with another lane or process, the
  store or the commit failed), the batch is split in halves, retried in order, down to
  operations run alone;
- an operation a batcher expects to fail (`runs_alone`) is run alone from the start, the same
  way, without failing a batch first;
- an operation run alone goes through the unbatched service in a transaction of its own, so it
  gets the answer or the error it would have had unbatched;
- the database being unreachable is everybody's answer at once (503: nothing committed, each
  would have had the same alone).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Generic, Self, TypeVar

from creditflow.domain.wallet import (
    Conflicting,
    LedgerEntry,
    Posted,
    Posting,
    Refused,
    Replayed,
    WalletState,
    decide,
)
from creditflow.errors import Contention, DatabaseUnavailable, NotFound
from creditflow.services.clock import Clock
from creditflow.services.posting import Outcome, post_or_explain
from creditflow.services.unit_of_work import UnitOfWorkFactory

DEFAULT_MAX_BATCH = 64
# Runs of one operation alone that a deadlock with another lane or process may take: the loser's
# transaction is rolled back whole, so running it again is safe, and it is what the caller wants.
CONTENTION_ATTEMPTS = 3

Op = TypeVar("Op")
R = TypeVar("R")


@dataclass(frozen=True)
class Broke(Exception):
    """Running the batch's `index`-th operation raised: that operation broke the batch."""

    index: int
    error: Exception


class Batcher(ABC, Generic[Op, R]):
    """`await batcher.submit(op)`: the operation's result, once its batch has committed.

    A result that is an exception is raised to the caller. Use it from one event loop;
    `close()` (or `async with`) stops its threads.

    `lanes` batches may be in their transactions at once, each on a thread and a connection of
    its own: an operation arriving while every lane is busy waits for the next free one, with
    the others that arrived meanwhile. Lanes whose batches share a row queue on its lock.
    """

    def __init__(self, max_batch: int = DEFAULT_MAX_BATCH, lanes: int = 1) -> None:
        if max_batch < 1:
            raise ValueError("a batch holds at least one operation")
        if lanes < 1:
            raise ValueError("a batcher has at least one lane")
        self._max_batch = max_batch
        self._waiting: list[tuple[Op, asyncio.Future[R]]] = []
        self._lanes = lanes
        self._draining: set[asyncio.Task[None]] = set()  # the lanes at work
        # A thread per lane: a batch at a time in each, the next collecting meanwhile.
        self._thread = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="group-commit")
        self.batch_sizes: list[int] = []  # what ran, for tests and benchmarks
        self.failed_batches = 0  # transactions that failed and were retried in parts

    @abstractmethod
    def committed(self, ops: Sequence[Op]) -> list[R | Exception]:
        """Run `ops` in one transaction, in arrival order, and commit it: each one's result.
        Raise `Broke` when one operation's failure ended the transaction."""

    @abstractmethod
    def alone(self, op: Op) -> R | Exception:
        """Run `op` as unbatched, in a transaction of its own: its result or its error."""

    # A batch of one run as unbatched: when that path is as cheap, a lone operation gains
    # nothing from the batch's, and a failure of it is not run a second time.
    lone_runs_alone = False

    def runs_alone(self, op: Op) -> bool:
        """Whether `op` is expected to fail a batch (then it is run alone from the start)."""
        return False

    async def submit(self, op: Op) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((op, future))
        if len(self._draining) < self._lanes:  # a lane is free: the operation goes at once
            self._draining.add(asyncio.create_task(self._drain()))
        return await future

    async def close(self) -> None:
        while self._draining:
            await asyncio.wait(set(self._draining))
        self._thread.shutdown(wait=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                ops = [op for op, _ in batch]
                self.batch_sizes.append(len(ops))
                try:
                    results: list[R | Exception] = await loop.run_in_executor(
                        self._thread, self.run, ops
                    )
                except RuntimeError as exc:  # closed: no thread to run the batch in
                    results = [exc] * len(ops)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # its caller went away; the operation stands
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            # No await since the queue was seen empty: an operation submitted from now on finds
            # this lane free and starts one, never waiting on a lane that has finished.
            lane = asyncio.current_task()
            assert lane is not None
            self._draining.discard(lane)

    def run(self, ops: Sequence[Op]) -> list[R | Exception]:
        """One batch, committed, and each operation's result (the batcher's thread runs this)."""
        if not ops:
            return []
        if len(ops) == 1 and self.lone_runs_alone:
            return [self._solo(ops[0])]
        expected = next((i for i, op in enumerate(ops) if self.runs_alone(op)), None)
        if expected is not None:
            return self._around(ops, expected)
        try:
            return self.committed(ops)
        except Broke as broke:
            self.failed_batches += 1
            return self._around(ops, broke.index)
        except DatabaseUnavailable as exc:
            if not isinstance(exc, Contention):  # unreachable: the same answer for everybody
                return [exc] * len(ops)
            return self._halved(ops)  # a deadlock or a serialization failure names nobody
        except Exception:
            return self._halved(ops)

    def _halved(self, ops: Sequence[Op]) -> list[R | Exception]:
        """A failure that names no operation: each half retried, down to one run alone."""
        self.failed_batches += 1
        if len(ops) == 1:
            return [self._solo(ops[0])]
        half = len(ops) // 2
        return [*self.run(ops[:half]), *self.run(ops[half:])]

    def _around(self, ops: Sequence[Op], index: int) -> list[R | Exception]:
        """In arrival order: those before `index` as a batch, it alone, those after as one."""
        return [*self.run(ops[:index]), self._solo(ops[index]), *self.run(ops[index + 1 :])]

    def _solo(self, op: Op) -> R | Exception:
        """`op` alone; lost to a deadlock (`Contention`), it runs again, a few times at most."""
        result = self.alone(op)
        for _ in range(CONTENTION_ATTEMPTS - 1):
            if not isinstance(result, Contention):
                break
            result = self.alone(op)
        return result


class PostingBatcher(Batcher[Posting, Outcome]):
    """Postings (/v1 spends and grants). Outcomes are `services/posting.py`'s: the entry stored,
    `Replayed`, `Conflicting` or `Refused`; errors (NotFound, DatabaseUnavailable, ...) are
    raised to the caller."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        max_batch: int = DEFAULT_MAX_BATCH,
        lanes: int = 1,
    ) -> None:
        super().__init__(max_batch, lanes)
        self._uow = uow_factory
        self._clock = clock

    def committed(self, ops: Sequence[Posting]) -> list[Outcome | Exception]:
        now = self._clock()
        with self._uow() as uow:
            states = uow.wallets.load_many(ops, now)
            decided: list[Posted | Replayed | Conflicting | Refused | NotFound] = []
            for index, posting in enumerate(ops):
                decided.append(_decided(states, posting, index, now))
            posted = [decision for decision in decided if isinstance(decision, Posted)]
            stored = uow.wallets.store_many(posted)
            uow.commit()
        by_key = {p.entry.key: entry for p, entry in zip(posted, stored, strict=True)}
        return [_answer(p, d, by_key) for p, d in zip(ops, decided, strict=True)]

    def alone(self, op: Posting) -> Outcome | Exception:
        """As unbatched: one transaction, committed if the posting stored an entry."""
        try:
            with self._uow() as uow:
                outcome = post_or_explain(uow, op, self._clock())
                if isinstance(outcome, LedgerEntry):
                    uow.commit()
            return outcome
        except Exception as exc:
            return exc


def _decided(
    states: dict[str, WalletState], posting: Posting, index: int, now: datetime
) -> Posted | Replayed | Conflicting | Refused | NotFound:
    state = states.get(posting.user_id)
    if state is None:
        return NotFound(f"no user {posting.user_id}")
    try:
        decision = decide(state, posting, now)
    except Exception as exc:
        raise Broke(index, exc) from exc
    if isinstance(decision, Posted):
        states[posting.user_id] = decision.state  # the next posting to it sees this one
    return decision


def _answer(
    posting: Posting,
    decision: Posted | Replayed | Conflicting | Refused | NotFound,
    stored: dict[str, LedgerEntry],
) -> Outcome | Exception:
    """An entry posted in this batch is answered as stored (its id, not the state's): a replay
    or a conflict with one posted earlier in the batch names it by this posting's key."""
    if isinstance(decision, Posted):
        return stored[posting.key]
    if isinstance(decision, Replayed) and decision.original.id < 1:
        return Replayed(stored[posting.key])
    if isinstance(decision, Conflicting) and decision.original.id < 1:
        return Conflicting(stored[posting.key])
    return decision
