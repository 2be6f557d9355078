"""kill -9 of a server process at random moments under load: every payment credited exactly once.

Two server processes share one database (a PostgreSQL cluster of the test's own, or one SQLite
file) and take a Stripe-like load: distinct payments, some events sent twice, some payments
announced by a second event. At moments drawn from the seeded generator, a server is killed with
SIGKILL (requests cut off mid-transaction, nothing flushed or closed) and started again, as a
supervisor would. The sender retries whatever got no 2xx, on either server. Afterwards every
payment has exactly one grant, every 200 was recorded, and `creditflow audit` is clean.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.faults.payments import assert_credited_exactly_once, deliveries_of, new_payments
from tests.faults.stripe_like import StripeLikeSender, send_under_faults, tally
from tests.servers import running_servers
from tests.support import register_all, server_environment

pytestmark = pytest.mark.slow

USERS = [f"user_{n}" for n in range(10)]
PAYMENTS = 360
KILLS = 3


def test_servers_killed_at_random_moments_under_load_credit_every_payment_exactly_once(
    own_database_url: str, tmp_path: Path, fault_scale: int, rng: random.Random
) -> None:
    payments = new_payments(rng, USERS, PAYMENTS * fault_scale)
    events = deliveries_of(rng, payments)
    with running_servers(2, server_environment(own_database_url), tmp_path) as servers:
        register_all(servers[0].url, USERS)

        def kill_and_restart() -> str:
            for server in servers:
                server.wait_started()  # the last victim is back
            victim = rng.choice(servers)
            victim.kill()
            victim.spawn()  # back in a second; meanwhile it refuses connections
            return f"killed {victim.url}"

        # Like a load balancer, send to a server whose process is alive (it may be starting).
        sender = StripeLikeSender(
            lambda: rng.choice([s for s in servers if s.is_running()] or servers).url, rng
        )
        answers, kills = send_under_faults(
            sender, events, rng, faults=KILLS * fault_scale, strike=kill_and_restart
        )

        for server in servers:
            server.wait_started()

    assert len(kills) == KILLS * fault_scale
    assert {answer.status for answer in answers} <= {200, None}, tally(answers)
    assert_credited_exactly_once(own_database_url, payments, answers)
