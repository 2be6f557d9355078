"""`python -m bench.ceiling` (`make bench-ceiling`): creditflow, then the fulfilment as one
statement inside creditflow's stack, then the same statement in a bare async app; each on a fresh
PostgreSQL database under `bench.webhook`'s load and checks. Writes bench/results/ceiling.json and
ceiling.md. Exits 1 if a correctness check failed."""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.machine import machine
from bench.webhook import runner
from bench.webhook.checks import CorrectnessError
from bench.webhook.config import Config
from bench.webhook.report import TARGET_CONNECTIONS, TARGET_P99_MS, TARGET_RATE
from bench.webhook.stats import Point
from bench.webhook.wrk import wrk_available

APPS = {
    "creditflow": "creditflow (sync stack, 10 statements)",
    "creditflow-one-statement": "one statement, creditflow's stack",
    "one-statement": "one statement, bare async app",
}


def main(argv: list[str]) -> int:
    default = Config()
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling", description=__doc__)
    parser.add_argument("--connections", default=",".join(map(str, default.connections)))
    parser.add_argument("--seconds", type=float, default=default.seconds, help="per point")
    parser.add_argument("--warmup", type=float, default=default.warmup, help="before each point")
    parser.add_argument("--apps", default=",".join(APPS))
    parser.add_argument("--results", type=Path, default=default.results)
    args = parser.parse_args(argv)
    config = Config(
        connections=tuple(int(c) for c in args.connections.split(",")),
        seconds=args.seconds,
        warmup=args.warmup,
        engines=("postgres",),
        results=args.results,
    )
    if not wrk_available():
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    rng = random.Random(20261127)
    before = machine()
    series: dict[str, list[Point]] = {}
    with tempfile.TemporaryDirectory(prefix="bw_ceiling_") as tmp:
        try:
            for app in args.apps.split(","):
                series[app] = runner.fulfilment("postgres", config, Path(tmp), rng, app)
        except CorrectnessError as exc:
            print(f"CORRECTNESS CHECK FAILED: {exc}", file=sys.stderr)
            return 1
    summary: dict[str, Any] = {
        "machine": {**machine(), "load_average_before": before["load_average"]},
        "config": {"connections": config.connections, "seconds": config.seconds},
        "series": {app: [point.as_json() for point in points] for app, points in series.items()},
    }
    text = markdown(summary)
    print()
    print(text)
    config.results.mkdir(parents=True, exist_ok=True)
    (config.results / "ceiling.json").write_text(json.dumps(summary, indent=2) + "\n")
    (config.results / "ceiling.md").write_text(text)
    print(f"wrote ceiling.json and ceiling.md in {config.results}")
    return 0


def markdown(summary: dict[str, Any]) -> str:
    """One row per app and connection count, and whether the target's point meets it."""
    rows = [
        "| PostgreSQL, 2 workers | connections | events/s | p50 ms | p99 ms | target |",
        "|---|--:|--:|--:|--:|---|",
    ]
    for app, points in summary["series"].items():
        for p in points:
            verdict = ""
            if p["connections"] == TARGET_CONNECTIONS:
                met = p["rate"] >= TARGET_RATE and p["p99_ms"] < TARGET_P99_MS
                verdict = "met" if met else "not met"
            rows.append(
                f"| {APPS.get(app, app)} | {p['connections']} | {p['rate']:,.0f} | "
                f"{p['p50_ms']:.1f} | {p['p99_ms']:.1f} | {verdict} |"
            )
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
