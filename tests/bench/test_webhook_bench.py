"""The webhook benchmark's harness still measures something true: a one-second run on SQLite is
checked like a real one (every answer 200, one grant per payment stored, none for a re-send,
audit clean), and the pgbench script still comes out of the code. Never a speed assertion."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from bench import pgbench_sql
from bench.webhook import runner
from bench.webhook.config import Config
from bench.webhook.load import make_load
from bench.webhook.payments import PAYMENT_TOKEN, USER_TOKEN
from bench.webhook.wrk import wrk_available

pytestmark = pytest.mark.slow


def test_bodies_are_new_payments_and_exact_re_sends() -> None:
    load = make_load(threads=2, per_thread=50, users=5, gap=2, rng=random.Random(1))
    sent = load.sent({"0": 50, "1": 50})
    duplicates = [request for request in sent if request.duplicate]
    new = {request.payment.event_id for request in sent if not request.duplicate}
    assert len(duplicates) == 10  # every tenth request
    assert len(new) == 100 - len(duplicates)  # no two threads, no two requests share one
    assert {request.payment.event_id for request in duplicates} <= new


@pytest.mark.skipif(not wrk_available(), reason="wrk is not installed")
def test_a_short_sqlite_run_grants_each_payment_exactly_once(tmp_path: Path) -> None:
    config = Config(
        connections=(1,),
        seconds=1,
        warmup=0,
        engines=("sqlite",),
        users=20,
        max_rate=1000,
        results=tmp_path,
    )
    (point,) = runner.fulfilment("sqlite", config, tmp_path, random.Random(2))
    # fulfilment() raised CorrectnessError if any check failed; these say what it checked.
    assert point.requests > 0
    assert point.non_2xx == 0
    assert point.errors == 0
    assert point.extra["grants_so_far"] == point.extra["stored_so_far"]
    assert point.extra["statuses"] == {"200": point.requests}


def test_the_pgbench_script_is_one_new_payment_with_nothing_left_literal() -> None:
    script = pgbench_sql.pgbench_script(pgbench_sql.capture_fulfilment(), users=10)
    lines = script.splitlines()
    assert lines[3] == "BEGIN;"
    assert lines[-1] == "COMMIT;"
    assert PAYMENT_TOKEN not in script
    assert USER_TOKEN not in script
    # pgbench takes any `:name` as a variable, in quotes or not: only ours may appear
    assert set(re.findall(r"(?<!:):(\w+)", script)) == {"bench_n", "bench_u"}
    assert "INSERT INTO ledger_entries" in script
    # generated ids are read back, never replayed as the captured literals
    assert not re.search(r"\b7[1-4]000000[0-9]\b", script)
