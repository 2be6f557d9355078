"""Hold + capture beside plain spends: operations/s over real HTTP on PostgreSQL (issue 14).

A scratch database gets `--users` wallets, each funded far beyond what a run can spend; a
uvicorn server serves it. `--connections` Python threads (one httpx client each) then run, for
`--seconds` each, either 1-credit spends or a 1-credit hold followed by its capture, on random
wallets with fresh keys. The client is Python on the same two cores as the server and the
database, so compare the two rows with each other, not with `make bench-spend` (wrk).
Results: bench/results/spend_holds.json; `creditflow audit` must pass afterwards.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from bench.machine import machine
from bench.scale.pgdb import scratch_database
from bench.scale.seed import SeedPlan, seed
from bench.scale.server import API_KEY, REPO, cli, running_server, server_env

HEADERS = {"Authorization": f"Bearer {API_KEY}"}
Operation = Callable[[httpx.Client, str, str], bool]


def spend(client: httpx.Client, user: str, key: str) -> bool:
    body = {"credits": 1, "idempotency_key": key, "reason": "bench"}
    return client.post(f"/v1/wallets/{user}/spend", json=body).status_code == 200


def hold_and_capture(client: httpx.Client, user: str, key: str) -> bool:
    body = {"credits": 1, "idempotency_key": key, "reason": "bench"}
    opened = client.post(f"/v1/wallets/{user}/holds", json=body)
    if opened.status_code != 201:
        return False
    captured = client.post(f"/v1/holds/{opened.json()['id']}/capture", json={})
    return captured.status_code == 200


def measure(base: str, operation: Operation, connections: int, seconds: float, users: int) -> Any:
    """Each thread repeats `operation` until the deadline; ops/s and latency percentiles."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(base_url=base, headers=HEADERS, timeout=30) as client:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                ok = operation(client, f"u{random.randint(1, users)}", uuid.uuid4().hex)
                elapsed = time.perf_counter() - started
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        failures.append(operation.__name__)

    with ThreadPoolExecutor(max_workers=connections) as pool:
        for future in [pool.submit(worker) for _ in range(connections)]:
            future.result()
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "operation": operation.__name__,
        "connections": connections,
        "ops": len(latencies),
        "failures": len(failures),
        "ops_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--output", type=Path, default=REPO / "bench/results/spend_holds.json")
    args = parser.parse_args()

    with scratch_database("holds") as url:
        engine = create_engine(url, poolclass=NullPool)
        with engine.begin() as connection:
            seed(connection, SeedPlan(users=args.users, entries=0, funding=10**12))
        engine.dispose()
        env = server_env(url)
        runs = []
        with running_server(env, workers=args.workers) as base:
            measure(base, spend, 4, 1, args.users)  # warm-up: connections, caches, plans
            for connections in (int(c) for c in args.connections.split(",")):
                for operation in (spend, hold_and_capture):
                    run = measure(base, operation, connections, args.seconds, args.users)
                    print(json.dumps(run), flush=True)
                    runs.append(run)
        seconds, report, status = cli(env, "audit")
    result = {
        "machine": machine(),
        "settings": {k: v for k, v in vars(args).items() if k != "output"},
        "runs": runs,
        "audit": {"exit_code": status, "seconds": seconds, "report": report},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    failed = status != 0 or any(run["failures"] for run in runs)
    print(f"wrote {args.output}; audit exit {status}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
