"""Several server processes, each with several uvicorn workers, on one database: lock contention
is waited out, never answered 500 (nor 503), and no grant is lost or doubled.

Two processes of two workers each share one PostgreSQL database (a cluster of the test's own,
see `own_database_url`), or one SQLite file (where every transaction takes the file's write
lock: BEGIN IMMEDIATE, and waits for it up to the busy timeout). A Stripe-like burst hits them
from many connections at once: payments of a few users (so their wallet rows are hot), Stripe's
duplicates racing their originals, and payments of users not registered yet, whose
registrations race those payments' pending grants.
"""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.faults.payments import assert_credited_exactly_once, deliveries_of, new_payments
from tests.faults.stripe_like import StripeLikeSender, send_under_faults, tally
from tests.servers import all_at_once, running_servers
from tests.support import auth, register_all, server_environment

pytestmark = pytest.mark.slow

REGISTERED = ["user_1", "user_2", "user_3"]
LATE = ["user_4", "user_5"]  # registered during the burst
PAYMENTS = 200
CONNECTIONS = 32
PROCESSES = 2
WORKERS = 2


def registration(url: str, user_id: str) -> int:
    with httpx.Client(base_url=url, timeout=60) as client:
        response = client.put(f"/v1/users/{user_id}", json={"email": None}, headers=auth())
        return response.status_code


def test_processes_and_workers_on_one_database_wait_out_contention_and_grant_once(
    own_database_url: str, tmp_path: Path, fault_scale: int, rng: random.Random
) -> None:
    payments = new_payments(rng, REGISTERED + LATE, PAYMENTS * fault_scale)
    events = deliveries_of(rng, payments)
    env = server_environment(own_database_url)
    statuses: list[int] = []
    with running_servers(PROCESSES, env, tmp_path, workers=WORKERS) as servers:
        register_all(servers[0].url, REGISTERED)
        urls = [server.url for server in servers]
        late = iter(LATE)

        def register_a_late_user() -> str:
            """Through every process at once, while payments of that user are coming in."""
            user_id = next(late)
            statuses.extend(all_at_once([partial(registration, url, user_id) for url in urls]))
            return f"registered {user_id}"

        sender = StripeLikeSender(lambda: rng.choice(urls), rng, timeout=60)
        answers, _ = send_under_faults(
            sender,
            events,
            rng,
            faults=len(LATE),
            strike=register_a_late_user,
            concurrency=CONNECTIONS,
        )

    assert statuses == [200] * len(LATE) * PROCESSES
    assert set(tally(answers)) <= {"200 processed", "200 duplicate"}, tally(answers)
    assert len(answers) == len(events), "an event needed a retry"
    assert_credited_exactly_once(own_database_url, payments, answers)
