"""`python -m bench.webhook`: the webhook fulfilment benchmark (`make bench-webhook`).

Prints each point as it is measured, then the table, the ratios and the target; writes
bench/results/webhook.json, webhook.md (the tables of docs/performance.md) and
webhook-throughput.png. Exits 1 if a correctness check failed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

from bench import plot
from bench.machine import machine
from bench.webhook import report, runner
from bench.webhook.checks import CorrectnessError
from bench.webhook.config import Config
from bench.webhook.stats import Point
from bench.webhook.wrk import wrk_available


def parse(argv: list[str]) -> Config:
    default = Config()
    parser = argparse.ArgumentParser(prog="python -m bench.webhook", description=__doc__)
    parser.add_argument("--connections", default=",".join(map(str, default.connections)))
    parser.add_argument("--seconds", type=float, default=default.seconds, help="per point")
    parser.add_argument("--warmup", type=float, default=default.warmup, help="before each point")
    parser.add_argument("--engines", default=",".join(default.engines))
    parser.add_argument("--postgres-workers", type=int, default=default.postgres_workers)
    parser.add_argument("--sqlite-workers", type=int, default=default.sqlite_workers)
    parser.add_argument("--wrk-threads", type=int, default=default.wrk_threads)
    parser.add_argument("--users", type=int, default=default.users)
    parser.add_argument("--max-rate", type=int, default=default.max_rate)
    parser.add_argument("--no-limits", action="store_true", help="skip pgbench and the bare app")
    parser.add_argument("--results", type=Path, default=default.results)
    args = parser.parse_args(argv)
    return Config(
        connections=tuple(int(c) for c in args.connections.split(",")),
        seconds=args.seconds,
        warmup=args.warmup,
        engines=tuple(e for e in args.engines.split(",") if e),
        postgres_workers=args.postgres_workers,
        sqlite_workers=args.sqlite_workers,
        wrk_threads=args.wrk_threads,
        users=args.users,
        max_rate=args.max_rate,
        limits=not args.no_limits,
        results=args.results,
    )


def main(argv: list[str]) -> int:
    config = parse(argv)
    if not wrk_available():
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    config.results.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261127)
    before = machine()
    series: dict[str, list[Point]] = {}
    with tempfile.TemporaryDirectory(prefix="bw_webhook_") as tmp:
        workdir = Path(tmp)
        try:
            for engine in config.engines:
                series[engine] = runner.fulfilment(engine, config, workdir, rng)
        except CorrectnessError as exc:
            print(f"CORRECTNESS CHECK FAILED: {exc}", file=sys.stderr)
            return 1
        if config.limits:
            series["db_limit"], _script = runner.database_limit(config, workdir)
            series["http_limit"] = runner.http_limit(config, workdir, rng)
    summary = report.summarise(series, config)
    summary["machine"]["load_average_before"] = before["load_average"]
    print()
    print(report.table(summary))
    report.write(summary, config.results)
    plot.plot(summary, config.results / "webhook-throughput.png")
    print(f"\nwrote webhook.json, webhook.md and webhook-throughput.png in {config.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
