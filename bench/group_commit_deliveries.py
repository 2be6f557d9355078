"""`python -m bench.group_commit_deliveries`: webhook deliveries/s through the delivery batcher,
in-process, against the unbatched service, on PostgreSQL (or SQLite, `--sqlite`), with the same
number of concurrent submitters (issue 16).

No HTTP and no signature check: the figure is what the service layer and the database can do.
Signed `checkout.session.completed` bodies of registered users, 90 % new and 10 % redeliveries
of one sent a moment before. Unbatched, each submitter is a thread calling
`DeliveryService.receive` (one transaction per delivery, as the route does with group commit
off); batched, each is an asyncio task awaiting `BatchedDeliveries.receive`, one batcher (one
connection) for the process. Then every payment is checked credited exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import threading
import time
from functools import partial
from typing import Any

from pydantic import SecretStr
from sqlalchemy import text

from bench.group_commit import Run, scratch
from creditflow.adapters.db.unit_of_work import UnitOfWork
from creditflow.adapters.stripe import samples
from creditflow.bootstrap import Container, build_container
from creditflow.domain.statuses import DeliveryStatus
from creditflow.services.batched_deliveries import BatchedDeliveries, DeliveryBatcher
from creditflow.services.deliveries import Delivery, DeliveryResult
from creditflow.services.group_commit import DEFAULT_MAX_BATCH
from creditflow.settings import WEBHOOK_PATH, Settings

CREDITS = 10


def settings(url: str, group_commit: bool, pool_size: int) -> Settings:
    return Settings(
        _env_file=None,
        database_url=url,
        webhook_secrets=(SecretStr("whsec_bench"),),
        group_commit=group_commit,
        db_pool_size=pool_size,
    )


class Deliveries:
    """An endless stream of deliveries: each tenth a redelivery of one sent shortly before."""

    def __init__(self, users: list[str], seed: str) -> None:
        self._users = users
        self._seed = seed
        self._count = itertools.count()
        self._recent: list[Delivery] = []

    def next(self, rng: random.Random) -> Delivery:
        n = next(self._count)
        if n % 10 == 9 and self._recent:
            return rng.choice(self._recent)
        session = samples.checkout_session(user_id=rng.choice(self._users), credits=CREDITS)
        event = samples.event("checkout.session.completed", session, event_id=f"{self._seed}{n}")
        delivery = Delivery.of(event, samples.encode(event).decode(), WEBHOOK_PATH)
        self._recent = [*self._recent[-31:], delivery]
        return delivery


def checked(result: DeliveryResult) -> None:
    assert result.status in {DeliveryStatus.PROCESSED, DeliveryStatus.DUPLICATE}, result


def unbatched(url: str, users: list[str], submitters: int, seconds: float) -> Run:
    services = build_container(settings(url, False, submitters))
    stream = Deliveries(users, "evt_u")
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def submitter(seed: int) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            with lock:
                delivery = stream.next(rng)
            started = time.perf_counter()
            checked(services.deliveries.receive(delivery))
            latencies.append((time.perf_counter() - started) * 1000)

    started, cpu = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=submitter, args=(i,)) for i in range(submitters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    services.close()
    return Run("unbatched (threads)", len(latencies), elapsed, latencies, cpu_seconds=cpu)


def batched(
    url: str, users: list[str], submitters: int, seconds: float, lanes: int, set_based: bool
) -> Run:
    services = build_container(settings(url, False, lanes + 1))
    uow_factory = partial(UnitOfWork, services.engine)
    batcher = DeliveryBatcher(uow_factory, services.deliveries, lanes=lanes, set_based=set_based)
    deliveries = BatchedDeliveries(services.deliveries, batcher)
    stream = Deliveries(users, "evt_b")
    latencies: list[float] = []

    async def submitter(seed: int, deadline: float) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            checked(await deliveries.receive(stream.next(rng)))
            latencies.append((time.perf_counter() - started) * 1000)

    async def everyone() -> float:
        started = time.perf_counter()
        async with deliveries.batcher:
            deadline = started + seconds
            await asyncio.gather(*(submitter(i, deadline) for i in range(submitters)))
        return time.perf_counter() - started

    cpu = time.process_time()
    elapsed = asyncio.run(everyone())
    cpu = time.process_time() - cpu
    sizes = deliveries.batcher.batch_sizes
    services.close()
    how = "set-based" if set_based else "per delivery"
    name = f"batched, {how} (cap {DEFAULT_MAX_BATCH}, {lanes} lane{'s' if lanes > 1 else ''})"
    return Run(name, len(latencies), elapsed, latencies, sum(sizes) / len(sizes), cpu)


def exactly_once(url: str) -> str:
    """Every purchase credited once: one grant entry per purchase, of its credits."""
    services = build_container(settings(url, False, 1))
    with services.engine.connect() as connection:
        row: Any = connection.execute(
            text(
                "SELECT (SELECT count(*) FROM purchases), (SELECT count(*) FROM ledger_entries), "
                "(SELECT coalesce(sum(balance), 0) FROM wallets)"
            )
        ).one()
    services.close()
    purchases, entries, credits = row
    verdict = "exactly once" if entries == purchases and credits == CREDITS * purchases else "WRONG"
    return f"{purchases} purchases, {entries} grants, {credits} credits: {verdict}"


def register(services: Container, users: list[str]) -> None:
    for user in users:
        services.users.register(user, None)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.group_commit_deliveries", description=__doc__
    )
    parser.add_argument("--submitters", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--lanes", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead")
    parser.add_argument(
        "--per-delivery",
        action="store_true",
        help="also batched with every delivery on its own path (as before the set-based case)",
    )
    args = parser.parse_args()

    def run(url: str) -> None:
        users = [f"user{i}" for i in range(args.users)]
        services = build_container(settings(url, False, 1))
        register(services, users)
        services.close()
        engine = "SQLite" if args.sqlite else "PostgreSQL"
        each = f"{args.users} users, 10 % redeliveries, {args.seconds:.0f} s each"
        print(f"{engine}: {args.submitters} submitters, {each}")
        for _ in range(args.rounds):  # alternated: the machine's noise falls on both sides
            print(unbatched(url, users, args.submitters, args.seconds).line("deliveries"))
            for lanes in args.lanes:
                for set_based in (False, True) if args.per_delivery else (True,):
                    measured = batched(url, users, args.submitters, args.seconds, lanes, set_based)
                    print(measured.line("deliveries"))
        print(exactly_once(url))

    scratch(run, args.sqlite)


if __name__ == "__main__":
    main()
