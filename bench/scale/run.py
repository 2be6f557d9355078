"""`make bench-scale`: do the hot paths stay flat as history grows? On PostgreSQL.

For each scale (ledger entries across the table; half of them one wallet's history) a scratch
database is seeded in bulk (seed.py) with `--users` users, audited, and then:

- every hot operation is explained (`EXPLAIN (ANALYZE, BUFFERS)` of each statement it runs,
  explain.py); at the largest scale none may seq-scan ledger_entries, credit_lots, purchases or
  pending_grants, and none may touch many more pages than at the smallest (GROWTH_*);
- each HTTP operation (operations.py) is timed `--ops` times, round-robin, against a real server
  (one worker), for p50/p99;
- a new user with `--pending` pending grants waiting for their e-mail registers (one request, one
  transaction), timed;
- at the largest scale, `creditflow reconcile` processes `--reconcile-events` events from a fake
  Stripe Events API, end to end;
- `creditflow audit` runs again (timed: it reads everything, by design) and must pass.

Results: bench/results/scale.json, bench/results/explain-<scale>.txt, and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bench.machine import machine
from bench.scale.explain import WATCHED, explaining
from bench.scale.operations import explained_operations, http_operations
from bench.scale.pgdb import scratch_database
from bench.scale.seed import SeedPlan, add_unclaimed_pending, seed, user_id
from bench.scale.server import API_KEY, REPO, cli, running_server, server_env
from bench.scale.stripe_events import paid_sessions, serving
from creditflow.bootstrap import build_container
from creditflow.settings import Settings

# An operation "grows" when, from the smallest scale to the largest, the pages its statements
# touch grow beyond this (b-tree indexes get a level deeper meanwhile: a few pages a lookup).
GROWTH_FACTOR, GROWTH_SLACK = 3, 100
TABLES = ("users", "ledger_entries", "credit_lots", "purchases", "pending_grants")


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(cut[98], 2),
        "max_ms": round(ordered[-1], 2),
    }


def explain_all(url: str, users: int, entries: int, out_dir: Path) -> dict[str, Any]:
    settings = Settings(_env_file=None, database_url=url, expiry_interval_seconds=0)
    container = build_container(settings)
    report: dict[str, Any] = {}
    text_out = []
    try:
        for name, call in explained_operations(container, users, entries).items():
            with explaining(container.engine) as capture:
                call()
            report[name] = {
                "statements": len(capture.plans),
                "sql_ms": round(sum(plan.execution_ms for plan in capture.plans), 3),
                "buffers": sum(plan.buffers for plan in capture.plans),
                "seq_scans": sorted({t for plan in capture.plans for t in plan.seq_scans}),
                "seq_scans_on_big_tables": sorted(set(capture.seq_scans_on(WATCHED))),
            }
            text_out.append(f"##### {name}")
            text_out += [f"-- {plan.statement}\n{plan.text}\n" for plan in capture.plans]
    finally:
        container.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"explain-{entries}.txt").write_text("\n".join(text_out))
    return report


def time_http(url: str, users: int, entries: int, rounds: int) -> dict[str, Any]:
    rng = random.Random(1)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    timings: dict[str, list[float]] = {}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        operations = http_operations(client, users, entries, rng)
        for name, call in operations.items():  # warm-up, and a check that each one works
            answer = call()
            if answer.status_code != 200:
                raise RuntimeError(f"{name}: {answer.status_code} {answer.text[:300]}")
        for _ in range(rounds):
            for name, call in operations.items():
                started = time.perf_counter()
                answer = call()
                timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    raise RuntimeError(f"{name}: {answer.status_code} {answer.text[:300]}")
    return {name: percentiles(samples) for name, samples in timings.items()}


def register_with_pending(url: str, engine_url: str, scale: int, count: int) -> dict[str, Any]:
    newcomer = f"newcomer{scale}"
    email = f"{newcomer}@bench.example"
    engine = create_engine(engine_url, poolclass=NullPool)
    with engine.begin() as connection:
        add_unclaimed_pending(connection, email, count)
    engine.dispose()
    headers = {"Authorization": f"Bearer {API_KEY}"}
    started = time.perf_counter()
    answer = httpx.put(
        f"{url}/v1/users/{newcomer}", json={"email": email}, headers=headers, timeout=600
    )
    seconds = time.perf_counter() - started
    answer.raise_for_status()
    body = answer.json()
    return {
        "pending": count,
        "claimed": len(body["claimed"]),
        "balance": body["balance"],
        "seconds": round(seconds, 3),
    }


def reconcile(env: dict[str, str], users: int, count: int) -> dict[str, Any]:
    events = paid_sessions([user_id(n) for n in range(1, users + 1)], count)
    with serving(events) as stripe_url:
        stripe_env = {**env, "STRIPE_SECRET_KEY": "sk_test_bench", "STRIPE_API_BASE": stripe_url}
        since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
        seconds, report, status = cli(stripe_env, "reconcile", "--since", since)
    processed = report.get("processed") if report else None
    return {
        "events": count,
        "seconds": seconds,
        "exit_code": status,
        "processed": processed,
        "events_per_s": round(count / seconds, 1),
        "report": {k: v for k, v in (report or {}).items() if k != "missing"},
    }


def row_counts(engine_url: str) -> dict[str, int]:
    engine = create_engine(engine_url, poolclass=NullPool)
    with engine.connect() as connection:
        counts = {
            table: int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())  # noqa: S608
            for table in TABLES  # constant names
        }
    engine.dispose()
    return counts


def run_scale(scale: int, args: argparse.Namespace, largest: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"entries": scale}
    with scratch_database(f"scale{scale}", args.revision) as url:
        engine = create_engine(url, poolclass=NullPool)
        started = time.perf_counter()
        with engine.begin() as connection:
            seed(connection, SeedPlan(users=args.users, entries=scale, funding=10**9))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        engine.dispose()
        result["seed_seconds"] = round(time.perf_counter() - started, 1)
        env = server_env(url)
        seconds, _, status = cli(env, "audit")
        result["audit_before"] = {"seconds": seconds, "exit_code": status}
        print(
            f"[{scale}] seeded in {result['seed_seconds']} s, audit {status} in {seconds} s",
            flush=True,
        )
        result["explain"] = explain_all(url, args.users, scale, args.output.parent)
        with running_server(env, workers=1) as base:
            result["latency"] = time_http(base, args.users, scale, args.ops)
            result["register_with_pending"] = register_with_pending(base, url, scale, args.pending)
        if largest and args.reconcile_events:
            result["reconcile"] = reconcile(env, args.users, args.reconcile_events)
        result["rows"] = row_counts(url)
        seconds, out, status = cli(env, "audit")
        result["audit_after"] = {
            "seconds": seconds,
            "exit_code": status,
            "report": out if status else None,
        }
        print(f"[{scale}] done; audit {status} in {seconds} s", flush=True)
    return result


def problems_of(results: list[dict[str, Any]]) -> list[str]:
    problems = []
    for result in results:
        scale = result["entries"]
        for when in ("audit_before", "audit_after"):
            if result[when]["exit_code"] != 0:
                problems.append(f"{scale}: {when} failed")
        pending = result["register_with_pending"]
        if pending["claimed"] != pending["pending"]:
            problems.append(f"{scale}: claimed {pending['claimed']} of {pending['pending']}")
        recon = result.get("reconcile")
        if recon and (recon["exit_code"] != 0 or recon["processed"] != recon["events"]):
            problems.append(f"{scale}: reconcile processed {recon['processed']}")
    largest = max(results, key=lambda r: r["entries"])
    smallest = min(results, key=lambda r: r["entries"])
    for name, found in largest["explain"].items():  # pages touched: flat, give or take a level
        small, big = smallest["explain"][name]["buffers"], found["buffers"]
        if big > GROWTH_FACTOR * small + GROWTH_SLACK:
            problems.append(
                f"{name} grows: {small} buffers at {smallest['entries']:,} entries, "
                f"{big} at {largest['entries']:,}"
            )
    for name, found in largest["explain"].items():
        if found["seq_scans_on_big_tables"]:
            scans = found["seq_scans_on_big_tables"]
            problems.append(f"{largest['entries']}: {name} seq-scans {scans}")
    return problems


def table(results: list[dict[str, Any]]) -> str:
    scales = [r["entries"] for r in results]
    lines = [
        "| operation | " + " | ".join(f"{s:,} entries" for s in scales) + " |",
        "|---|" + "---|" * len(scales),
    ]
    for name in results[0]["latency"]:
        cells = [
            f"{r['latency'][name]['p50_ms']:.1f} / {r['latency'][name]['p99_ms']:.1f}"
            for r in results
        ]
        lines.append(f"| {name} (p50 / p99 ms) | " + " | ".join(cells) + " |")
    cells = [f"{r['register_with_pending']['seconds']:.2f} s" for r in results]
    lines.append(
        f"| register with {results[0]['register_with_pending']['pending']} pending"
        " grants | " + " | ".join(cells) + " |"
    )
    cells = [f"{r['audit_after']['seconds']:.1f} s" for r in results]
    lines.append("| creditflow audit (whole DB) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", default="1000,100000,1000000")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--ops", type=int, default=200, help="timed requests per operation")
    parser.add_argument("--pending", type=int, default=1000)
    parser.add_argument("--reconcile-events", type=int, default=10_000)
    parser.add_argument(
        "--revision", default="head", help="schema revision (0001: before 0002 and 0003)"
    )
    parser.add_argument("--output", type=Path, default=REPO / "bench/results/scale.json")
    args = parser.parse_args()
    scales = sorted(int(s) for s in args.scales.split(","))
    results = [run_scale(s, args, largest=s == scales[-1]) for s in scales]
    problems = problems_of(results)
    summary = {
        "machine": machine(),
        "settings": {k: v for k, v in vars(args).items() if k != "output"},
        "scales": results,
        "table": table(results),
        "problems": problems,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2) + "\n")
    print(summary["table"])
    for result in results:
        if "reconcile" in result:
            print(f"reconcile: {result['reconcile']}")
    print(f"wrote {args.output}; problems: {problems or 'none'}")
    raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
    main()
