"""`python -m bench.roundtrips` (`make bench-round-trips`): round trips to PostgreSQL per
operation, and the service's CPU per new paid delivery (issue 12's targets).

Prints each operation's round trips beside its target and the SQL each round trip carried, then
the CPU per delivery; writes bench/results/round-trips.json. Exits 1 when an operation takes more
round trips than its target; the CPU target fails the run only with --check-cpu.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from bench.machine import machine
from bench.roundtrips.cpu import TARGET_MS, CpuPerDelivery, measure_cpu
from bench.roundtrips.operations import Count, count_round_trips
from bench.roundtrips.peer import count_peer_round_trips
from bench.webhook.config import RESULTS


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.roundtrips", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="counted runs of each operation")
    parser.add_argument("--deliveries", type=int, default=500, help="timed for the CPU figure")
    parser.add_argument("--check-cpu", action="store_true", help=f"fail above {TARGET_MS} ms")
    parser.add_argument("--no-cpu", action="store_true", help="count round trips only")
    parser.add_argument("--results", type=Path, default=RESULTS / "round-trips.json")
    parser.add_argument(
        "--profile", type=Path, help="write a CPU profile of the deliveries here (text)"
    )
    args = parser.parse_args(argv)

    counts = count_round_trips(args.rounds)
    print(round_trips_table(counts))
    peer = count_peer_round_trips(args.rounds)
    print("\nthe one-function peer (bench/peer), for comparison:")
    print(round_trips_table(peer, targets=False))
    cpu = None if args.no_cpu else measure_cpu(args.deliveries, args.profile)
    if cpu is not None:
        print(
            f"\nservice CPU per new paid delivery: {cpu.cpu_ms:.2f} ms (target <= {TARGET_MS} ms,"
            f" {'met' if not cpu.over_target else 'not met'}), of which the signature check and"
            f" parse {cpu.verify_ms:.2f} ms; wall {cpu.wall_ms:.2f} ms; {cpu.deliveries} deliveries"
        )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(_summary(counts, peer, cpu), indent=2) + "\n")
    print(f"wrote {args.results}")
    failed = [c.operation.name for c in counts if c.over_target]
    if failed:
        print(f"ROUND TRIPS OVER TARGET: {', '.join(failed)}", file=sys.stderr)
    if args.check_cpu and cpu is not None and cpu.over_target:
        print(f"SERVICE CPU OVER TARGET: {cpu.cpu_ms:.2f} ms > {TARGET_MS} ms", file=sys.stderr)
        failed.append("cpu")
    return 1 if failed else 0


def round_trips_table(counts: list[Count], targets: bool = True) -> str:
    lines = ["| operation | round trips | target | met |", "|---|--:|--:|---|"]
    for count in counts:
        target = count.operation.target
        rounds = sorted(set(count.rounds))
        shown = str(count.most) if len(rounds) == 1 else f"{rounds[0]}-{count.most}"
        if not targets:
            target = None
        met = "" if target is None else ("no" if count.over_target else "yes")
        lines.append(f"| {count.operation.name} | {shown} | {target or '-'} | {met} |")
    for count in counts:
        lines.append(f"\n{count.operation.name} ({count.operation.what}):")
        lines += [f"  {number:2}. {trip}"[:160] for number, trip in enumerate(count.trips, 1)]
        if count.connections_opened:
            lines.append(f"  (and {count.connections_opened} connections opened: not counted)")
    return "\n".join(lines)


def _summary(
    counts: list[Count], peer: list[Count], cpu: CpuPerDelivery | None
) -> dict[str, object]:
    return {
        "machine": machine(),
        "round_trips": _counts_json(counts),
        "peer_round_trips": _counts_json(peer),
        "service_cpu": None if cpu is None else {**asdict(cpu), "target_ms": TARGET_MS},
    }


def _counts_json(counts: list[Count]) -> list[dict[str, object]]:
    return [
        {
            "operation": c.operation.name,
            "what": c.operation.what,
            "target": c.operation.target,
            "rounds": c.rounds,
            "connections_opened": c.connections_opened,
            "trips": [str(trip) for trip in c.trips],
        }
        for c in counts
    ]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
