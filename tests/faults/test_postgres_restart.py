"""PostgreSQL stopped and started under load: 503 while it is down, and recovery on its own.

Two server processes on a PostgreSQL cluster of the test's own take a Stripe-like load. At random
moments the cluster is stopped with `pg_ctl stop -m immediate` (every backend dies, open
transactions are lost), left down for a moment, and started again. While it is down every
delivery must be answered 503, so Stripe retries it: never a 200 (nothing can be recorded) and
never a 500. Once it is back, the same server processes, never restarted, serve again and every
payment ends up credited exactly once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from tests.faults.payments import assert_credited_exactly_once, deliveries_of, new_payments
from tests.faults.postgres_cluster import ThrowawayPostgres
from tests.faults.stripe_like import StripeLikeSender, send_under_faults, tally
from tests.servers import ServerProcess, running_servers
from tests.support import register_all, server_environment

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

USERS = [f"user_{n}" for n in range(10)]
PAYMENTS = 150
OUTAGES = 2
OUTAGE_SECONDS = 1.0
# Answers of transactions committed just before the stop may still be on their way; after this,
# no 2xx can come until PostgreSQL is back.
IN_FLIGHT_SECONDS = 0.3


def health(servers: Sequence[ServerProcess]) -> list[int]:
    return [httpx.get(f"{server.url}/healthz", timeout=10).status_code for server in servers]


def test_postgres_stopped_and_started_under_load_answers_503_meanwhile_and_recovers_alone(
    own_postgres: ThrowawayPostgres, tmp_path: Path, fault_scale: int, rng: random.Random
) -> None:
    payments = new_payments(rng, USERS, PAYMENTS * fault_scale)
    events = deliveries_of(rng, payments)
    with running_servers(2, server_environment(own_postgres.url), tmp_path) as servers:
        register_all(servers[0].url, USERS)
        pids = [server.pid for server in servers]
        sender = StripeLikeSender(lambda: rng.choice(servers).url, rng)

        def outage() -> str:
            own_postgres.stop_immediately()
            time.sleep(IN_FLIGHT_SECONDS)
            settled = sender.settled
            time.sleep(OUTAGE_SECONDS - IN_FLIGHT_SECONDS)
            while_down = (sender.settled - settled, health(servers))
            own_postgres.start()
            assert while_down == (0, [503] * len(servers)), "(2xxs, /healthz) while it was down"
            return f"down {OUTAGE_SECONDS} s"

        answers, outages = send_under_faults(
            sender, events, rng, faults=OUTAGES * fault_scale, strike=outage
        )

        assert len(outages) == OUTAGES * fault_scale
        assert [server.pid for server in servers] == pids, "a server process was restarted"
        assert health(servers) == [200] * len(servers)
    seen = tally(answers)
    assert set(seen) <= {"200 processed", "200 duplicate", "503 database_unavailable"}, seen
    assert seen["503 database_unavailable"] > 0
    assert_credited_exactly_once(own_postgres.url, payments, answers)
