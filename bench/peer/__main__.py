"""`python -m bench.peer` (`make bench-peer`): creditflow side by side with the one-function peer.

In one run, one after the other, each on a fresh database and its own server process: the peer
(bench/peer/app.py, 1 worker), then `creditflow serve` as a user starts it (and again with
`--workers 1` when its default runs more than one process), under the same wrk load: the webhook
(signed checkout.session.completed, 90 % new and 10 % duplicates, `--users` registered buyers),
then 1-credit spends on random funded wallets. Each point is checked afterwards (every payment
granted once, every answer 200, no oversell, `creditflow audit` clean): exit 1 if one fails.
Prints and writes (bench/results/peer.{json,md}, peer.png) throughput, p99 and the ratios against
issue 12's and issue 16's targets; a missed target is reported, never a failure.
"""

from __future__ import annotations

import argparse
import inspect
import random
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from bench.machine import machine
from bench.peer import report
from bench.peer.sides import FUNDING, PEER, PEER_STACKS, Side, spends, webhook
from bench.webhook import runner
from bench.webhook.checks import CorrectnessError
from bench.webhook.config import RESULTS, Config
from bench.webhook.payments import BODIES
from bench.webhook.stats import Point
from bench.webhook.wrk import wrk_available
from creditflow.entrypoints.cli.server import serve


def parse(argv: list[str]) -> tuple[Config, list[str], Side, int]:
    """The configuration (limits: whether to measure the webhook's two limits too), the
    scenarios, how the peer is served, and the hot wallet's funding."""
    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__)
    parser.add_argument("--connections", default="16", help="e.g. 1,4,16,64 for the plot")
    parser.add_argument("--seconds", type=float, default=10.0, help="per point")
    parser.add_argument("--warmup", type=float, default=2.0, help="before each point")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--wrk-threads", type=int, default=1, help="as the peers' scripts")
    parser.add_argument("--scenarios", default="webhook,spend,hot", help="hot: one wallet")
    parser.add_argument(
        "--hot-funding",
        type=int,
        default=FUNDING,
        help="the hot wallet's credits (a few hundred: empty it, and check nothing oversells)",
    )
    parser.add_argument("--body", default="compact", choices=BODIES, help="as the peers' scripts")
    parser.add_argument(
        "--log-level", default="INFO", help="creditflow's (its default; the peer logs none)"
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--peer-stack",
        default="plain",
        choices=list(PEER_STACKS),
        help="the peer's uvicorn: plain (asyncio, h11, as the peers' scripts) or "
        "creditflow's (uvloop, httptools)",
    )
    parser.add_argument(
        "--limits",
        action="store_true",
        help="webhook: also the bare endpoint (1 worker) and pgbench on creditflow's SQL",
    )
    args = parser.parse_args(argv)
    config = Config(
        connections=tuple(int(c) for c in args.connections.split(",")),
        seconds=args.seconds,
        warmup=args.warmup,
        engines=("postgres",),
        wrk_threads=args.wrk_threads,
        users=args.users,
        results=args.results,
        log_level=args.log_level,
        body=args.body,
        limits=args.limits,
        postgres_workers=1,
    )
    peer = replace(PEER, command=PEER_STACKS[args.peer_stack])
    return config, [s for s in args.scenarios.split(",") if s], peer, args.hot_funding


def creditflow_sides() -> list[Side]:
    """`creditflow serve` as started; and with 1 worker, like the peer, if that is not the same."""
    default = int(inspect.signature(serve).parameters["workers"].default)
    sides = [
        Side(
            f"creditflow serve ({default} worker{'s' * (default > 1)})",
            "creditflow-as-started",
            default,
        )
    ]
    if default != 1:
        sides.append(Side("creditflow, 1 worker", "creditflow", 1))
    return sides


def limits(config: Config, workdir: Path, rng: random.Random) -> dict[str, list[Point]]:
    """What the webhook sits under (issue 16): uvicorn and the signature check alone, 1 worker,
    same load; PostgreSQL running the SQL one creditflow fulfilment sends, under pgbench."""
    print("webhook: the limits", flush=True)
    return {
        report.HTTP_LIMIT: runner.http_limit(config, workdir, rng),
        report.DB_LIMIT: runner.database_limit(config, workdir)[0],
    }


def main(argv: list[str]) -> int:
    config, scenarios, peer, hot_funding = parse(argv)
    if not wrk_available():
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    config.results.mkdir(parents=True, exist_ok=True)
    before = machine()
    rng = random.Random(20261202)
    sides = [peer, *creditflow_sides()]
    series: dict[str, dict[str, list[Point]]] = {}
    with tempfile.TemporaryDirectory(prefix="bw_peer_") as tmp:
        try:
            for scenario in scenarios:
                series[scenario] = {}
                for side in sides:
                    print(f"{scenario}: {side.label}", flush=True)
                    if scenario == "webhook":
                        points = webhook(side, config, Path(tmp), rng)
                    elif scenario == "hot":
                        points = spends(side, config, Path(tmp), hot_funding)
                    else:
                        points = spends(side, config, Path(tmp))
                    series[scenario][side.label] = points
                if scenario == "webhook" and config.limits:
                    series[scenario] |= limits(config, Path(tmp), rng)
        except CorrectnessError as exc:
            print(f"CORRECTNESS CHECK FAILED: {exc}", file=sys.stderr)
            return 1
    summary = report.summarise(series, config, before, peer.command)
    print()
    print(report.markdown(summary))
    report.write(summary, config.results)
    print(f"wrote peer.json, peer.md and peer.png in {config.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
