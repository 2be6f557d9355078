"""The table, the ratios to the two limits, the target, and bench/results/webhook.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.machine import machine
from bench.webhook.config import Config
from bench.webhook.stats import Point

TARGET_RATE = 1500.0
TARGET_P99_MS = 50.0
TARGET_CONNECTIONS = 16
SERIES = {
    "postgres": "PostgreSQL fulfilment",
    "sqlite": "SQLite fulfilment",
    "db_limit": "DB limit (pgbench)",
    "http_limit": "HTTP limit (bare ASGI)",
}


def summarise(series: dict[str, list[Point]], config: Config) -> dict[str, Any]:
    return {
        "machine": machine(),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "series": {name: [p.as_json() for p in points] for name, points in series.items()},
        "ratios": ratios(series),
        "target": target(series),
    }


def ratios(series: dict[str, list[Point]]) -> dict[str, dict[str, float]]:
    """Fulfilment rate / limit rate, per engine and limit, at each connection count."""
    found: dict[str, dict[str, float]] = {}
    for engine in ("postgres", "sqlite"):
        for limit in ("db_limit", "http_limit"):
            if engine == "sqlite" and limit == "db_limit":
                continue  # pgbench measures PostgreSQL only
            by_connections = {p.connections: p.rate for p in series.get(limit, [])}
            pairs = {
                str(p.connections): p.rate / by_connections[p.connections]
                for p in series.get(engine, [])
                if by_connections.get(p.connections)
            }
            if pairs:
                found[f"{engine}/{limit}"] = pairs
    return found


def target(series: dict[str, list[Point]]) -> dict[str, Any]:
    point = next(
        (p for p in series.get("postgres", []) if p.connections == TARGET_CONNECTIONS), None
    )
    if point is None:
        return {"measured": False}
    return {
        "measured": True,
        "connections": TARGET_CONNECTIONS,
        "rate": point.rate,
        "p99_ms": point.p99_ms,
        "rate_met": point.rate >= TARGET_RATE,
        "p99_met": point.p99_ms < TARGET_P99_MS,
        "met": point.rate >= TARGET_RATE and point.p99_ms < TARGET_P99_MS,
    }


def table(summary: dict[str, Any]) -> str:
    lines = [
        f"{'series':24} {'conns':>5} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}",
    ]
    for label, p in _points(summary):
        lines.append(
            f"{label:24} {p['connections']:>5} {p['rate']:>9.1f} "
            f"{p['p50_ms']:>8.1f} {p['p99_ms']:>8.1f} {p['non_2xx']:>8}"
        )
    lines.append("")
    for name, pairs in summary["ratios"].items():
        cells = ", ".join(f"{conns} conns {ratio:.2f}" for conns, ratio in pairs.items())
        lines.append(f"ratio {name}: {cells}")
    goal = summary["target"]
    if goal["measured"]:
        verdict = "MET" if goal["met"] else "NOT MET"
        lines.append(
            f"target at {goal['connections']} connections on PostgreSQL (>= {TARGET_RATE:.0f}/s, "
            f"p99 < {TARGET_P99_MS:.0f} ms): {verdict} ({goal['rate']:.0f}/s, "
            f"p99 {goal['p99_ms']:.1f} ms)"
        )
    return "\n".join(lines)


def markdown(summary: dict[str, Any]) -> str:
    """The results as docs/performance.md shows them (bench/results/webhook.md, to paste)."""
    rows = [
        "| series | connections | events/s | p50 ms | p99 ms | non-2xx |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for label, p in _points(summary):
        rows.append(
            f"| {label} | {p['connections']} | {p['rate']:,.0f} | "
            f"{p['p50_ms']:.1f} | {p['p99_ms']:.1f} | {p['non_2xx']} |"
        )
    rows.append("")
    rows.append("| ratio | " + " | ".join(f"{c} conns" for c in _connections(summary)) + " |")
    rows.append("|---|" + "--:|" * len(_connections(summary)))
    for name, pairs in summary["ratios"].items():
        cells = [f"{pairs[str(c)]:.2f}" if str(c) in pairs else "" for c in _connections(summary)]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    goal = summary["target"]
    if goal["measured"]:
        verdict = "**met**" if goal["met"] else "**not met**"
        rows.append("")
        rows.append(
            f"Target at {goal['connections']} connections on PostgreSQL (>= {TARGET_RATE:,.0f} "
            f"events/s, p99 < {TARGET_P99_MS:.0f} ms): {verdict} ({goal['rate']:,.0f} events/s, "
            f"p99 {goal['p99_ms']:.1f} ms)."
        )
    return "\n".join(rows) + "\n"


def _points(summary: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every measured point with its series' label, in the order the tables list them."""
    for name, points in summary["series"].items():
        for point in points:
            yield SERIES[name], point


def _connections(summary: dict[str, Any]) -> list[int]:
    return sorted({p["connections"] for points in summary["series"].values() for p in points})


def write(summary: dict[str, Any], results: Path) -> None:
    (results / "webhook.json").write_text(json.dumps(summary, indent=2) + "\n")
    (results / "webhook.md").write_text(markdown(summary))
