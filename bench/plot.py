"""Throughput against concurrency from bench/results/webhook.json (matplotlib, no display).

`python -m bench.plot [results.json] [plot.png]`; `make bench-webhook` draws it after each run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.webhook.config import RESULTS

LINES = {  # series -> label, style
    "postgres": ("PostgreSQL fulfilment", "o-"),
    "sqlite": ("SQLite fulfilment", "s-"),
    "db_limit": ("DB limit: pgbench, same SQL", "^--"),
    "http_limit": ("HTTP limit: bare ASGI + signature", "v--"),
}


def plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(10, 5), dpi=120)
    for name, (label, style) in LINES.items():
        points = summary["series"].get(name, [])
        if points:
            x = [p["connections"] for p in points]
            axes.plot(x, [p["rate"] for p in points], style, label=label)
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")  # the limits may sit an order of magnitude above fulfilment
    connections = sorted({p["connections"] for s in summary["series"].values() for p in s})
    axes.set_xticks(connections, [str(c) for c in connections])
    axes.set_xlabel("concurrent connections (wrk) / clients (pgbench)")
    axes.set_ylabel("events per second (log scale)")
    axes.axhline(1500, color="grey", linewidth=0.8, linestyle=":", label="target: 1,500/s at 16")
    machine = summary["machine"]
    axes.set_title(
        f"Webhook fulfilment, {machine['nproc']} cores, {machine['date'][:10]} "
        f"(git {machine['git_sha'][:8]})"
    )
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def main(argv: list[str]) -> None:
    source = Path(argv[0]) if argv else RESULTS / "webhook.json"
    target = Path(argv[1]) if len(argv) > 1 else source.with_name("webhook-throughput.png")
    plot(json.loads(source.read_text()), target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
