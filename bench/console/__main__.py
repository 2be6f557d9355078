"""`make bench-console`: server time of every console page at 10^4 deliveries and 10^5 ledger
entries, on SQLite and PostgreSQL; the figures in docs/console.md.

Each page is requested in-process (Starlette's TestClient, no network), logged in, after one
warm-up request; the time is from sending the request to the whole body read, the server's work.
The target: every page under 300 ms. Results go to bench/results/console.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from bench.console.seed import HEAVY, Plan, moment, seed, user_id
from bench.scale.pgdb import scratch_database
from creditflow.adapters.db import migrate
from creditflow.adapters.db.engine import build_engine
from creditflow.entrypoints.http import create_app
from creditflow.entrypoints.http.console import operators
from creditflow.settings import Settings

TARGET_MS = 300
RESULTS = Path(__file__).parent.parent / "results" / "console.json"
PASSWORD = "bench password 123"


def pages(plan: Plan) -> dict[str, str]:
    middle = plan.entries // 2  # an entry id in the middle of HEAVY's history
    return {
        "overview": "/console",
        "inbox": "/console/inbox",
        "inbox, needs_attention": "/console/inbox?status=needs_attention",
        "inbox, one type": "/console/inbox?type=charge.refunded",
        "inbox, a day": f"/console/inbox?from={moment().date().isoformat()}",
        "inbox, a later page": "/console/inbox?after="
        + (moment().isoformat() + "~evt_5000").replace("+", "%2B"),
        "event": "/console/events/evt_5000",
        "find a wallet by e-mail": f"/console/wallets?q={user_id(7)}@bench.example",
        "wallet, 5*10^4 entries": f"/console/wallet?user={HEAVY}",
        "wallet, a later ledger page": f"/console/wallet?user={HEAVY}&before={middle}",
        "wallet, 50 entries": f"/console/wallet?user={user_id(7)}",
        "holds": "/console/holds",
        "holds, live": "/console/holds?status=held",
        "holds, expired": "/console/holds?status=expired",
        "holds of a wallet": f"/console/holds?user={HEAVY}",
        "holds, a later page": "/console/holds?after="
        + ((moment() - timedelta(hours=24)).isoformat() + "~hold_5000").replace("+", "%2B"),
        "pending grants": "/console/pending",
        "purchases": "/console/purchases",
        "purchases, partially_refunded": "/console/purchases?status=partially_refunded",
    }


@contextmanager
def database(engine_name: str) -> Iterator[str]:
    if engine_name == "postgres":
        with scratch_database("console") as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/console.db"
        engine = build_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


def measure(engine_name: str, plan: Plan, rounds: int) -> dict[str, Any]:
    with database(engine_name) as url, tempfile.TemporaryDirectory() as directory:
        engine = build_engine(url)
        with engine.begin() as connection:
            seed(connection, plan, moment())
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            # What autovacuum would have done by the time a real database held this history.
            connection.execute(text("VACUUM ANALYZE" if engine_name == "postgres" else "ANALYZE"))
        engine.dispose()
        users_file = Path(directory) / "console-users"
        operators.add(users_file, "bench", PASSWORD)
        settings = Settings(
            _env_file=None,
            database_url=url,
            console_users=users_file,
            console_secret=SecretStr("bench-console-secret-0123456789"),
            expiry_interval_seconds=0,
        )
        with TestClient(create_app(settings)) as client:
            _log_in(client)
            return {name: _time(client, path, rounds) for name, path in pages(plan).items()}


def _log_in(client: TestClient) -> None:
    form = client.get("/console/login").text
    csrf = form.split('name="csrf" value="')[1].split('"')[0]
    answer = client.post(
        "/console/login",
        data={"name": "bench", "password": PASSWORD, "csrf": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def _time(client: TestClient, path: str, rounds: int) -> dict[str, float]:
    def once() -> float:
        started = time.perf_counter()
        answer = client.get(path, follow_redirects=False)
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code in (200, 303), (path, answer.status_code, answer.text[:500])
        return elapsed

    once()  # warm-up: first compile of the template, the doctor's first check
    times = sorted(once() for _ in range(rounds))
    p90 = times[min(len(times) - 1, round(0.9 * (len(times) - 1)))]
    return {
        "median_ms": round(statistics.median(times), 1),
        "p90_ms": round(p90, 1),
        "max_ms": round(times[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    plan = Plan()
    results = {name: measure(name, plan, args.rounds) for name in args.engines.split(",")}
    load = os.getloadavg()[0]  # a shared machine's other work shows in the times
    report = {"plan": vars(plan), "rounds": args.rounds, "load_average": load, "results": results}
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs; {args.rounds} requests per page")
    print(f"| page | {' | '.join(f'{e} median / p90 / max (ms)' for e in results)} |")
    print(f"|---|{'---|' * len(results)}")
    for page in pages(plan):
        cells = [
            f"{r[page]['median_ms']} / {r[page]['p90_ms']} / {r[page]['max_ms']}"
            for r in results.values()
        ]
        print(f"| {page} | {' | '.join(cells)} |")
    worst = max(r[p]["p90_ms"] for r in results.values() for p in r)
    verdict = "met" if worst < TARGET_MS else "MISSED"
    print(f"slowest p90: {worst} ms; target {TARGET_MS} ms: {verdict}")


if __name__ == "__main__":
    main()
