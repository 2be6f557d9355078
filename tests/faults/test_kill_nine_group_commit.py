"""kill -9 of a server with group commit on (CREDITFLOW_GROUP_COMMIT): nothing is answered
before its batch commits, so a kill loses only uncommitted work and the app's retry with the
same key makes it good, exactly once (docs/design.md, group commit).

Two tests. Under load (SQLite and PostgreSQL): concurrent spends and grants with idempotency
keys, the server killed at random moments and started again; whether a kill lands inside a
batch's transaction is likely at that load, not certain. On PostgreSQL, certain: the test holds
the row lock of the wallet that sorts last, so a batch of several spends waits in its
transaction holding the locks of the others (read back with SKIP LOCKED) when the kill lands.
Afterwards every request is sent again with its key, and the ledger holds each exactly once.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Connection, select, text

from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.db.tables import ledger_entries, wallets
from tests.faults.postgres_cluster import ThrowawayPostgres
from tests.faults.wallet_requests import (
    FUNDING,
    WalletAnswer,
    WalletRequest,
    assert_each_posted_once,
    tally,
)
from tests.servers import ServerProcess, all_at_once, running_servers, wait_for
from tests.support import grant, register, server_environment

pytestmark = pytest.mark.slow

USERS = [f"user_{n}" for n in range(8)]
STARTING = 100_000  # more than all the spends: every spend is due, none refused
REQUESTS = 600
KILLS = 3
CONCURRENCY = 16
FIRST, LAST = USERS[0], USERS[-1]  # the wallets a batch locks first and last (user id order)
ARRIVAL_SECONDS = 1.0  # ample for a burst on loopback to reach the server


def group_committing(database_url: str) -> dict[str, str]:
    return {**server_environment(database_url), "CREDITFLOW_GROUP_COMMIT": "true"}


def fund(url: str) -> dict[str, int]:
    with httpx.Client(base_url=url, timeout=30) as client:
        for user_id in USERS:
            register(client, user_id)
            assert grant(client, user_id, STARTING, FUNDING).status_code == 200
    return dict.fromkeys(USERS, STARTING)


def workload(rng: random.Random, count: int, users: Sequence[str] = USERS) -> list[WalletRequest]:
    """Spends (4 in 5) and grants to random wallets, each under a key of its own."""
    return [
        WalletRequest("spend", rng.choice(users), rng.randint(1, 20), f"spend-{n}")
        if rng.random() < 0.8
        else WalletRequest("grant", rng.choice(users), rng.randint(1, 50), f"grant-{n}")
        for n in range(count)
    ]


class Sender:
    """Sends requests `concurrency` at a time to the server `target()` names at each attempt;
    `answers` grows as they come back. A client whose connection failed is replaced, so no
    attempt reuses a connection to a killed server."""

    def __init__(self, target: Callable[[], str], concurrency: int = CONCURRENCY) -> None:
        self._target = target
        self._concurrency = concurrency
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self.answers: list[WalletAnswer] = []

    def send_all(self, requests: Sequence[WalletRequest]) -> list[WalletAnswer]:
        """Each request once; their answers in the requests' order."""
        try:
            with ThreadPoolExecutor(self._concurrency) as pool:
                return list(pool.map(self._send, requests))
        finally:
            for client in self._clients:
                client.close()

    def _send(self, request: WalletRequest) -> WalletAnswer:
        url = self._target()
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None or getattr(self._local, "url", None) != url:
            client = self._local.client = httpx.Client(base_url=url, timeout=60)
            self._local.url = url
            self._clients.append(client)
        answer = request.send(client)
        if answer.status is None:
            self._local.client = None
        self.answers.append(answer)
        return answer


def send_again(url: str, requests: Sequence[WalletRequest]) -> list[WalletAnswer]:
    """After the last restart: every request again, with its key."""
    return Sender(lambda: url).send_all(requests)


def assert_retries_consistent(first: Sequence[WalletAnswer], again: Sequence[WalletAnswer]) -> None:
    """A retry answers 200; after a 200 it replays that entry; a request refused at the door
    (server down) was never posted, so its retry posts it now."""
    assert {a.status for a in again} == {200}, tally(again)
    for before, after in zip(first, again, strict=True):
        if before.status == 200:
            assert (after.replayed, after.entry_id) == (True, before.entry_id), before.request
        elif not before.cut_off:
            assert not after.replayed, f"posted though it never reached a server: {before}"


@contextmanager
def killed_at_random(
    server: ServerProcess, rng: random.Random, settled: Callable[[], int], kills: int
) -> Iterator[list[str]]:
    """In the background, `kills` times: when a random share of the requests has been
    answered, kill -9 the server and start it again, as a supervisor would."""
    moments = sorted(rng.choices(range(REQUESTS // 10, REQUESTS * 6 // 10), k=kills))
    reports: list[str] = []

    def reached(moment: int) -> bool:
        return settled() >= moment

    def strike() -> None:
        for moment in moments:
            wait_for(partial(reached, moment), f"{moment} requests answered")
            server.wait_started()
            server.kill()
            reports.append(f"killed after {settled()} answers")
            server.spawn()

    with ThreadPoolExecutor(1) as injector:
        done = injector.submit(strike)
        yield reports
        done.result()
    server.wait_started()


def test_a_group_committing_server_killed_at_random_under_load_posts_every_request_once(
    own_database_url: str, tmp_path: Path, fault_scale: int, rng: random.Random
) -> None:
    requests = workload(rng, REQUESTS * fault_scale)
    with running_servers(1, group_committing(own_database_url), tmp_path) as [server]:
        starting = fund(server.url)
        sender = Sender(lambda: server.url)
        answered = lambda: len(sender.answers)  # noqa: E731
        with killed_at_random(server, rng, answered, KILLS * fault_scale) as kills:
            first = sender.send_all(requests)
        again = send_again(server.url, requests)

    print(f"kills: {kills}; first attempts: {dict(tally(first))}; retries: {dict(tally(again))}")
    cut_off = [n for n, answer in enumerate(first) if answer.cut_off]
    committed_unanswered = sum(again[n].replayed for n in cut_off)
    print(
        f"{len(cut_off)} cut off in flight: {committed_unanswered} had committed before the "
        f"kill (answer lost), {len(cut_off) - committed_unanswered} had not (work lost)"
    )
    assert len(kills) == KILLS * fault_scale
    assert {answer.status for answer in first} <= {200, None}, tally(first)
    assert cut_off, "no kill met a request in flight"
    assert_retries_consistent(first, again)
    assert_each_posted_once(own_database_url, starting, requests, [*first, *again])


@contextmanager
def row_locked(connection: Connection, user_id: str) -> Iterator[None]:
    """The wallet row locked by this connection until the block ends (rolled back)."""
    transaction = connection.begin()
    connection.execute(
        select(wallets.c.balance).where(wallets.c.user_id == user_id).with_for_update()
    )
    try:
        yield
    finally:
        transaction.rollback()


def waiting_on_a_lock(connection: Connection) -> int:
    """Backends waiting on a lock (a transaction of its own: the statistics are read once per
    transaction)."""
    with connection.begin():
        return int(
            connection.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar_one()
        )


def locked_by_others(connection: Connection) -> set[str]:
    """The wallets whose rows another transaction holds (SKIP LOCKED reads past them)."""
    with connection.begin():
        free = connection.execute(
            select(wallets.c.user_id).with_for_update(skip_locked=True)
        ).scalars()
        return set(USERS) - set(free)


def send_together(
    url: str, requests: Sequence[WalletRequest], connected: threading.Event
) -> list[WalletAnswer]:
    """Each request on a connection of its own, opened beforehand (then `connected` is set),
    all released at once."""
    clients = [httpx.Client(base_url=url, timeout=60) for _ in requests]
    try:
        for client in clients:
            assert client.get("/healthz").status_code == 200
        connected.set()
        return all_at_once([partial(r.send, c) for r, c in zip(requests, clients, strict=True)])
    finally:
        for client in clients:
            client.close()


def posted_keys(connection: Connection) -> set[str]:
    with connection.begin():
        return set(connection.execute(select(ledger_entries.c.reference)).scalars())


@pytest.mark.postgres_only
def test_a_kill_inside_a_batchs_transaction_loses_that_batch_and_the_retries_post_it_once(
    own_postgres: ThrowawayPostgres, tmp_path: Path, rng: random.Random
) -> None:
    """The first wallet's lock holds a lone spend's batch; the burst that arrives meanwhile
    collects into the next batch, which, once the first is let go, locks the burst's wallets in
    order and waits on the last one's lock: the kill lands in that batch's transaction."""
    url = own_postgres.url
    opener = WalletRequest("spend", FIRST, 5, "spend-first")
    burst = [*workload(rng, 40, users=USERS[1:-1]), WalletRequest("spend", LAST, 5, "spend-last")]
    engine = build_engine(url)
    with (
        running_servers(1, group_committing(url), tmp_path) as [server],
        engine.connect() as first_lock,
        engine.connect() as last_lock,
        engine.connect() as watcher,
        ThreadPoolExecutor(2) as background,
    ):
        starting = fund(server.url)
        with row_locked(last_lock, LAST):
            with row_locked(first_lock, FIRST):
                opened = background.submit(send_again, server.url, [opener])
                wait_for(lambda: waiting_on_a_lock(watcher) == 1, "the opener's batch waiting")
                connected = threading.Event()
                sending = background.submit(send_together, server.url, burst, connected)
                assert connected.wait(timeout=60)
                time.sleep(ARRIVAL_SECONDS)  # the burst collects behind the opener's batch
            assert opened.result()[0].status == 200
            wait_for(lambda: waiting_on_a_lock(watcher) == 1, "the burst's batch waiting")
            in_its_transaction = locked_by_others(watcher) - {LAST}
            server.kill()
        first = sending.result()
        server.spawn()
        server.wait_started()
        unanswered = {a.request.key for a in first if a.status is None}
        committed_unanswered = unanswered & posted_keys(watcher)
        again = send_again(server.url, burst)
    engine.dispose()

    print(f"the killed batch held {sorted(in_its_transaction)}; first: {dict(tally(first))}")
    assert len(in_its_transaction) >= 2, "the batch waiting on the lock held no other wallet"
    assert {a.request.key for a in first if a.request.user_id == LAST} <= unanswered
    assert committed_unanswered == set(), "work of the killed batch (or after it) committed"
    assert_retries_consistent(first, again)
    assert_each_posted_once(url, starting, [opener, *burst], [*first, *again])
