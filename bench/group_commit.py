"""`python -m bench.group_commit`: spends/s of the group-commit batcher, in-process, against the
unbatched service, on PostgreSQL (or SQLite, `--sqlite`), with the same number of concurrent
submitters (issue 16).

No HTTP: the figure is what the service layer and the database can do. Unbatched, each
submitter is a thread calling `WalletOperations.spend` (one transaction per spend, as the routes
do today); batched, each is an asyncio task awaiting `PostingBatcher.submit`, one batcher (one
connection) for the process. Random funded wallets, fresh keys; then one hot wallet, checked for
oversell. A scratch database is made, migrated and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from creditflow.adapters.db import migrate
from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.db.unit_of_work import UnitOfWork
from creditflow.domain.keys import spend_key
from creditflow.domain.kinds import EntryKind
from creditflow.domain.wallet import LedgerEntry, Posting
from creditflow.services.clock import utc_now
from creditflow.services.group_commit import PostingBatcher
from creditflow.services.wallet_operations import WalletOperations

SERVER = os.environ.get(
    "CREDITFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
FUNDING = 10**9


@dataclass(frozen=True)
class Run:
    name: str
    spends: int
    seconds: float
    latencies_ms: list[float]
    mean_batch: float | None = None
    cpu_seconds: float | None = None  # the process's, over the run (less noisy than the rate)

    @property
    def cpu_ms(self) -> float:
        return 1000 * (self.cpu_seconds or 0.0) / self.spends

    def line(self, what: str = "spends") -> str:
        cuts = statistics.quantiles(self.latencies_ms, n=100)
        cpu = (
            ""
            if self.cpu_seconds is None
            else f"  CPU {self.cpu_seconds * 1000 / self.spends:.2f} ms each"
        )
        batch = "" if self.mean_batch is None else f", mean batch {self.mean_batch:.1f}"
        return (
            f"{self.name:<28} {self.spends / self.seconds:8.0f} {what}/s  "
            f"p50 {cuts[49]:6.1f} ms  p99 {cuts[98]:6.1f} ms{cpu}{batch}"
        )


def spend(user: str, key: str) -> Posting:
    return Posting(user, -1, EntryKind.SPEND, key, spend_key(user, key), "bench")


def unbatched(url: str, users: list[str], submitters: int, seconds: float) -> Run:
    engine = build_engine(url, pool_size=submitters)
    operations = WalletOperations(lambda: UnitOfWork(engine), utc_now)
    latencies: list[float] = []
    keys = itertools.count()
    deadline = time.perf_counter() + seconds

    def submitter(seed: int) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            operations.spend(rng.choice(users), 1, f"u{next(keys)}", "bench")
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    threads = [threading.Thread(target=submitter, args=(i,)) for i in range(submitters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    engine.dispose()
    return Run("unbatched (threads)", len(latencies), elapsed, latencies)


def batched(
    url: str, users: list[str], submitters: int, seconds: float, max_batch: int, lanes: int
) -> Run:
    engine = build_engine(url, pool_size=lanes + 1)
    batcher = PostingBatcher(lambda: UnitOfWork(engine), utc_now, max_batch, lanes)
    name = f"batched (cap {max_batch}, {lanes} lane{'s' if lanes > 1 else ''})"
    latencies: list[float] = []
    keys = itertools.count()

    async def submitter(seed: int, deadline: float) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            key = f"b{max_batch}-{lanes}-{next(keys)}"
            outcome = await batcher.submit(spend(rng.choice(users), key))
            assert isinstance(outcome, LedgerEntry), outcome
            latencies.append((time.perf_counter() - started) * 1000)

    async def everyone() -> float:
        started = time.perf_counter()
        async with batcher:
            deadline = started + seconds
            await asyncio.gather(*(submitter(i, deadline) for i in range(submitters)))
        return time.perf_counter() - started

    elapsed = asyncio.run(everyone())
    engine.dispose()
    sizes = batcher.batch_sizes
    return Run(name, len(latencies), elapsed, latencies, sum(sizes) / len(sizes))


def fund(url: str, users: list[str]) -> None:
    engine = build_engine(url)
    now = datetime.now(UTC)
    with UnitOfWork(engine) as uow:
        for user in users:
            uow.users.save(user, None, None, now)
        uow.commit()
    batcher = PostingBatcher(lambda: UnitOfWork(engine), utc_now)
    grants = [Posting(u, FUNDING, EntryKind.GRANT, "f", f"grant:{u}:f", "funding") for u in users]
    for start in range(0, len(grants), 64):
        batcher.run(grants[start : start + 64])
    engine.dispose()


def oversold(url: str, user: str, funding: int) -> str:
    """Spend a small hot wallet dry with the batcher; what the ledger says of it."""
    engine = build_engine(url, pool_size=2)
    with UnitOfWork(engine) as uow:
        uow.users.save(user, None, None, datetime.now(UTC))
        uow.commit()
    batcher = PostingBatcher(lambda: UnitOfWork(engine), utc_now)
    batcher.run([Posting(user, funding, EntryKind.GRANT, "f", f"grant:{user}:f", "funding")])

    async def drain() -> list[object]:
        async with batcher:
            spends = (batcher.submit(spend(user, f"h{i}")) for i in range(funding * 2))
            return list(await asyncio.gather(*spends))

    started = time.perf_counter()
    outcomes = asyncio.run(drain())
    elapsed = time.perf_counter() - started
    with engine.connect() as connection:
        balance = connection.execute(
            text("SELECT balance FROM wallets WHERE user_id = :u"), {"u": user}
        ).scalar_one()
    engine.dispose()
    spent = sum(isinstance(o, LedgerEntry) for o in outcomes)
    verdict = "no oversell" if spent == funding and balance == 0 else "OVERSOLD"
    return (
        f"hot wallet: {len(outcomes)} spends of 1 on {funding} credits in {elapsed:.2f} s: "
        f"{spent} posted, balance {balance}: {verdict}"
    )


def scratch(run: Callable[[str], None], sqlite: bool = False) -> None:
    if sqlite:
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite:///{directory}/bench.db"
            engine = build_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
            run(url)
        return
    name = f"creditflow_bench_group_{os.getpid()}"
    server = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(SERVER).set(database=name).render_as_string(hide_password=False)
        engine = build_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        run(url)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.group_commit", description=__doc__)
    parser.add_argument("--submitters", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--caps", type=int, nargs="*", default=[64])
    parser.add_argument("--lanes", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead")
    args = parser.parse_args()

    def run(url: str) -> None:
        users = [f"user{i}" for i in range(args.users)]
        fund(url, users)
        engine = "SQLite" if args.sqlite else "PostgreSQL"
        each = f"{args.users} wallets, {args.seconds:.0f} s each"
        print(f"{engine}: {args.submitters} submitters, {each}")
        print(unbatched(url, users, args.submitters, args.seconds).line())
        for cap in args.caps:
            for lanes in args.lanes:
                print(batched(url, users, args.submitters, args.seconds, cap, lanes).line())
        print(oversold(url, "hot", 500))

    scratch(run, args.sqlite)


if __name__ == "__main__":
    main()
