"""`make bench-spend`: spends/s over real HTTP on PostgreSQL, random wallets and one hot wallet.

A scratch database gets `--users` wallets (each funded far beyond what a run can spend) and one
hot wallet per connection count, funded with `--hot-funding` credits only. A uvicorn server
(`--workers` processes) serves it; wrk posts 1-credit spends with fresh idempotency keys
(spend.lua) at 1, 16 and 64 connections. Afterwards each hot wallet is checked for overselling
against wrk's answers, and `creditflow audit` must pass. Results: bench/results/spend.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bench.machine import machine
from bench.scale.pgdb import scratch_database
from bench.scale.seed import SeedPlan, seed
from bench.scale.server import API_KEY, REPO, cli, running_server, server_env
from bench.spend.check import Answers, hot_wallet_problems, read_hot_wallet

SCRIPT = Path(__file__).with_name("spend.lua")
RANDOM_FUNDING = 10**12


def wrk(
    url: str, connections: int, seconds: float, users: int, hot: str = "", threads: int = 2
) -> dict[str, Any]:
    """One wrk run (`threads` at most); its BENCH_JSON summary plus spends/s."""
    threads = min(threads, connections)
    command = [
        *("wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"),
        *("-s", str(SCRIPT), url, "--", uuid.uuid4().hex[:12], API_KEY, str(users), hot),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    elapsed = result["duration_us"] / 1e6
    result |= {
        "connections": connections,
        "wrk_threads": threads,
        "attempts_per_s": round(result["requests"] / elapsed, 1),
        "spends_per_s": round(result["ok"] / elapsed, 1),
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
    }
    return result


def audit(env: dict[str, str]) -> dict[str, Any]:
    seconds, report, status = cli(env, "audit")
    return {"exit_code": status, "seconds": seconds, "report": report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="thread pool per worker")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--hot-funding", type=int, default=200)
    parser.add_argument("--output", type=Path, default=REPO / "bench/results/spend.json")
    args = parser.parse_args()
    levels = [int(c) for c in args.connections.split(",")]
    hot = {c: f"hot{c}" for c in levels}

    with scratch_database("spend") as url:
        engine = create_engine(url, poolclass=NullPool)
        with engine.begin() as connection:
            plan = SeedPlan(
                users=args.users,
                entries=0,
                funding=RANDOM_FUNDING,
                extra_wallets=tuple((wallet, args.hot_funding) for wallet in hot.values()),
            )
            seed(connection, plan)
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
        env = server_env(url)
        runs = []
        with running_server(env, workers=args.workers, threads=args.threads) as base:
            wrk(base, 16, 2, args.users)  # warm-up: connections, caches, plans
            for scenario in ("random", "hot"):
                for c in levels:
                    target = hot[c] if scenario == "hot" else ""
                    run = wrk(base, c, args.seconds, args.users, target)
                    run["scenario"] = scenario
                    if scenario == "hot":
                        with engine.connect() as connection:
                            wallet = read_hot_wallet(connection, hot[c], args.hot_funding)
                        answers = Answers(run["ok"], run["refused"], run["other"], c)
                        run["hot_wallet"] = vars(wallet)
                        run["problems"] = hot_wallet_problems(wallet, answers)
                    print(_line(run), flush=True)
                    runs.append(run)
        checked = audit(env)
        engine.dispose()

    problems = [p for run in runs for p in run.get("problems", [])]
    problems += [f"{r['other']} unexpected answers ({r['scenario']})" for r in runs if r["other"]]
    if checked["exit_code"] != 0:
        problems.append("creditflow audit failed")
    result = {
        "machine": machine(),
        "settings": {k: v for k, v in vars(args).items() if k != "output"},
        "runs": runs,
        "audit": checked,
        "problems": problems,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}; audit exit {checked['exit_code']}; problems: {problems or 'none'}")
    raise SystemExit(1 if problems else 0)


def _line(run: dict[str, Any]) -> str:
    return (
        f"{run['scenario']:6} c={run['connections']:<3} {run['spends_per_s']:>8} spends/s "
        f"({run['attempts_per_s']} attempts/s) p50 {run['p50_ms']:.1f} ms "
        f"p99 {run['p99_ms']:.1f} ms  ok {run['ok']} 402 {run['refused']} other {run['other']}"
        + (f"  problems: {run['problems']}" if run.get("problems") else "")
    )


if __name__ == "__main__":
    main()
