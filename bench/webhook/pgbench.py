"""The database's limit: pgbench replaying the SQL of one fulfilment, as fast as it can.

The script comes from `bench.pgbench_sql` on every run. pgbench runs it as prepared statements
(each parsed and planned once per connection, as psycopg does from a statement's fifth run on a
connection), writes a per-transaction log, and the percentiles come from that log.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.webhook.stats import Point, percentile

TPS = re.compile(r"^tps = ([\d.]+) \(without initial connection time\)", re.MULTILINE)
FAILED = re.compile(r"^number of failed transactions: (\d+)", re.MULTILINE)


def run_pgbench(url: str, script: Path, connections: int, seconds: float, logdir: Path) -> Point:
    """`pgbench -n -M prepared -c C -j min(C, 2) -T secs -f script` against `url`'s database."""
    parsed = make_url(url)
    prefix = logdir / f"pgbench-c{connections}"
    for old in logdir.glob(f"{prefix.name}.*"):
        old.unlink()
    command = [
        "pgbench",
        *("-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432)),
        *("-U", parsed.username or "postgres"),
        *("-n", "-M", "prepared", "-c", str(connections), "-j", str(min(connections, 2))),
        *("-T", str(max(1, round(seconds))), "-f", str(script)),
        *("-l", f"--log-prefix={prefix}"),
        parsed.database or "postgres",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=logdir)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    tps = TPS.search(done.stdout)
    if tps is None:
        raise RuntimeError(f"no tps in pgbench's output:\n{done.stdout}")
    failed = FAILED.search(done.stdout)
    latencies = sorted(_logged_latencies(logdir, prefix.name))
    return Point(
        connections=connections,
        rate=float(tps.group(1)),
        p50_ms=percentile(latencies, 0.50),
        p90_ms=percentile(latencies, 0.90),
        p99_ms=percentile(latencies, 0.99),
        requests=len(latencies),
        seconds=seconds,
        errors=int(failed.group(1)) if failed else 0,
    )


def _logged_latencies(logdir: Path, prefix: str) -> list[float]:
    """Milliseconds per transaction from pgbench's logs (`client tx latency_us script ...`)."""
    values: list[float] = []
    for log in logdir.glob(f"{prefix}.*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                values.append(int(fields[2]) / 1000)
    return values
