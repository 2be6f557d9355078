"""What a benchmark result must say about where it ran: cores, load, versions, the commit.

Every benchmark writes it with its figures; the load average tells whether other work shared
the machine, which on two cores moves every number.
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, text

from bench.webhook.databases import POSTGRES_SERVER

NOT_CODE = [":!bench/results", ":!docs"]  # what a run rewrites, or results are pasted into


def machine() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "load_average": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgres": _postgres_version(),
        "pgbench": _output(["pgbench", "--version"]),
        "wrk": _output(["wrk", "-v"]).splitlines()[0] if _output(["wrk", "-v"]) else "",
        "git_sha": _output(["git", "rev-parse", "HEAD"]),
        "git_dirty": bool(_output(["git", "status", "--porcelain", "-uno", "--", ".", *NOT_CODE])),
    }


def _postgres_version() -> str:
    try:
        engine = create_engine(POSTGRES_SERVER)
        with engine.connect() as connection:
            version = str(connection.execute(text("SHOW server_version")).scalar())
        engine.dispose()
    except Exception as exc:  # a report without the version beats no report
        return f"unknown ({type(exc).__name__})"
    return version


def _output(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return (done.stdout or done.stderr).strip()
