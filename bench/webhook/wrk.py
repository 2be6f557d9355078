"""One wrk run with bench/lua/webhook.lua; its JSON summary (written by the script's done())."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import TypedDict, cast

from bench.webhook.stats import Point
from creditflow.settings import WEBHOOK_PATH

LUA = Path(__file__).resolve().parents[1] / "lua" / "webhook.lua"
TIMEOUT = "10s"  # slow answers count in the latencies instead of as timeouts


class WrkSummary(TypedDict):
    """What bench/lua/webhook.lua's done() writes."""

    requests: int
    duration_s: float
    rps: float
    non_2xx: int
    latency_ms: dict[str, float]
    errors: dict[str, int]  # connect, read, write, status (non-2xx/3xx), timeout
    statuses: dict[str, int]
    outcomes: dict[str, int]  # the "status" each answer's JSON gave: processed, duplicate...
    issued: dict[str, int]  # requests each wrk thread took from its file, by thread


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    url: str,
    bodies: Path,
    *,
    connections: int,
    threads: int,
    seconds: float,
    summary: Path,
    path: str = WEBHOOK_PATH,
) -> WrkSummary:
    """Send the requests in `<bodies>.<thread>` for `seconds`; the summary wrk wrote."""
    summary.unlink(missing_ok=True)
    env = {
        **os.environ,
        "BENCH_BODIES": str(bodies),
        "BENCH_SUMMARY": str(summary),
        "BENCH_PATH": path,
    }
    command = [
        *("wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s"),
        *("--timeout", TIMEOUT, "-s", str(LUA), url),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not summary.exists():
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return cast(WrkSummary, json.loads(summary.read_text()))


def as_point(connections: int, result: WrkSummary) -> Point:
    latency = result["latency_ms"]
    return Point(
        connections=connections,
        rate=result["rps"],
        p50_ms=latency["p50"],
        p90_ms=latency["p90"],
        p99_ms=latency["p99"],
        requests=result["requests"],
        seconds=result["duration_s"],
        non_2xx=result["non_2xx"],
        errors=sum(result["errors"].values()) - result["errors"]["status"],
        extra={"statuses": result["statuses"], "outcomes": result["outcomes"]},
    )
