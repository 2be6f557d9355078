"""Group commit: postings that arrive together share one transaction (issue 16).

A process's postings queue on one `PostingBatcher`. While a batch is in its transaction, new
arrivals collect for the next; there is no timer, so a lone posting runs at once, as a batch of
one, and under load batches grow by themselves, up to `max_batch`. A batch is one unit of work,
run in the batcher's own thread: load every wallet of the batch in set-based statements (locked
in user id order), decide each posting in arrival order on the in-memory state (two postings to
one wallet see each other, a replayed key its original), store every change in set-based
statements, commit once; then every caller is answered.

Isolation (docs/design.md, no caller is answered before its commit):
- a refusal (insufficient credits, a replayed or conflicting key, no such wallet) is that
  posting's result; the others commit;
- if the batch's transaction fails, nobody is answered from it. A posting whose decision raised
  is known to be the one that broke: the postings before it and after it are retried as
  batches, and it runs alone. When the failure names no posting (the store or the commit
  failed), the batch is split in halves, retried in order, down to postings run alone;
- a posting run alone goes through `services/posting.py` in a transaction of its own, exactly
  as unbatched, so it gets the answer or the error it would have had unbatched;
- the database being unreachable is everybody's answer at once (503: nothing committed, each
  would have had the same alone).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

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
from creditflow.errors import DatabaseUnavailable, NotFound
from creditflow.services.clock import Clock
from creditflow.services.posting import Outcome, post_or_explain
from creditflow.services.unit_of_work import UnitOfWorkFactory

DEFAULT_MAX_BATCH = 64

Result = Outcome | Exception  # what a caller is answered with, or raised


@dataclass(frozen=True)
class _Broke(Exception):
    """The decision of the batch's `index`-th posting raised: that posting broke the batch."""

    index: int
    error: Exception


class PostingBatcher:
    """`await batcher.submit(posting)`: the posting's outcome, once its batch has committed.

    Outcomes are `services/posting.py`'s: the entry stored, `Replayed`, `Conflicting` or
    `Refused`; errors (NotFound, DatabaseUnavailable, ...) are raised to the caller. Use it from
    one event loop; `close()` (or `async with`) stops its threads.

    `lanes` batches may be in their transactions at once, each on a thread and a connection of
    its own: a posting arriving while every lane is busy waits for the next free one, with the
    others that arrived meanwhile. Lanes whose batches share a wallet queue on its row lock.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        max_batch: int = DEFAULT_MAX_BATCH,
        lanes: int = 1,
    ) -> None:
        if max_batch < 1:
            raise ValueError("a batch holds at least one posting")
        if lanes < 1:
            raise ValueError("a batcher has at least one lane")
        self._uow = uow_factory
        self._clock = clock
        self._max_batch = max_batch
        self._waiting: list[tuple[Posting, asyncio.Future[Outcome]]] = []
        self._lanes = lanes
        self._draining: set[asyncio.Task[None]] = set()  # the lanes at work
        # A thread per lane: a batch at a time in each, the next collecting meanwhile.
        self._thread = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="group-commit")
        self.batch_sizes: list[int] = []  # what ran, for tests and benchmarks
        self.failed_batches = 0  # transactions that failed and were retried in parts

    async def submit(self, posting: Posting) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((posting, future))
        if len(self._draining) < self._lanes:  # a lane is free: the posting goes at once
            self._draining.add(asyncio.create_task(self._drain()))
        return await future

    async def close(self) -> None:
        while self._draining:
            await asyncio.wait(set(self._draining))
        self._thread.shutdown(wait=True)

    async def __aenter__(self) -> PostingBatcher:
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
                postings = [posting for posting, _ in batch]
                self.batch_sizes.append(len(postings))
                try:
                    results: list[Result] = await loop.run_in_executor(
                        self._thread, self.run, postings
                    )
                except RuntimeError as exc:  # closed: no thread to run the batch in
                    results = [exc] * len(postings)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # its caller went away; the posting stands
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            # No await since the queue was seen empty: a posting submitted from now on finds
            # this lane free and starts one, never waiting on a lane that has finished.
            lane = asyncio.current_task()
            assert lane is not None
            self._draining.discard(lane)

    def run(self, postings: Sequence[Posting]) -> list[Result]:
        """One batch, committed, and each posting's result (the batcher's thread runs this)."""
        try:
            return self._committed(postings)
        except DatabaseUnavailable as exc:
            return [exc] * len(postings)
        except _Broke as broke:
            self.failed_batches += 1
            if len(postings) == 1:
                return [self._alone(postings[0])]
            i = broke.index  # in arrival order: those before it, it alone, those after it
            before = self.run(postings[:i]) if i else []
            alone = self._alone(postings[i])
            after = self.run(postings[i + 1 :]) if i + 1 < len(postings) else []
            return [*before, alone, *after]
        except Exception:
            self.failed_batches += 1
            if len(postings) == 1:
                return [self._alone(postings[0])]
            half = len(postings) // 2
            return [*self.run(postings[:half]), *self.run(postings[half:])]

    def _committed(self, postings: Sequence[Posting]) -> list[Result]:
        now = self._clock()
        with self._uow() as uow:
            states = uow.wallets.load_many(postings, now)
            decided: list[Posted | Replayed | Conflicting | Refused | NotFound] = []
            for index, posting in enumerate(postings):
                decided.append(_decided(states, posting, index, now))
            posted = [decision for decision in decided if isinstance(decision, Posted)]
            stored = uow.wallets.store_many(posted)
            uow.commit()
        by_key = {p.entry.key: entry for p, entry in zip(posted, stored, strict=True)}
        return [_answer(p, d, by_key) for p, d in zip(postings, decided, strict=True)]

    def _alone(self, posting: Posting) -> Result:
        """As unbatched: one transaction, committed if the posting stored an entry."""
        try:
            with self._uow() as uow:
                outcome = post_or_explain(uow, posting, self._clock())
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
        raise _Broke(index, exc) from exc
    if isinstance(decision, Posted):
        states[posting.user_id] = decision.state  # the next posting to it sees this one
    return decision


def _answer(
    posting: Posting,
    decision: Posted | Replayed | Conflicting | Refused | NotFound,
    stored: dict[str, LedgerEntry],
) -> Result:
    """An entry posted in this batch is answered as stored (its id, not the state's): a replay
    or a conflict with one posted earlier in the batch names it by this posting's key."""
    if isinstance(decision, Posted):
        return stored[posting.key]
    if isinstance(decision, Replayed) and decision.original.id < 1:
        return Replayed(stored[posting.key])
    if isinstance(decision, Conflicting) and decision.original.id < 1:
        return Conflicting(stored[posting.key])
    return decision
