"""How many workers `creditflow serve` starts without --workers (entrypoints/cli/server.py)."""

from __future__ import annotations

import os

import pytest

from creditflow.entrypoints.cli.server import MAX_WORKERS, cpu_cores, default_workers

POSTGRES = "postgresql+psycopg://creditflow@db.internal/creditflow"


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 2), (8, 8), (MAX_WORKERS + 1, 64)])
def test_on_postgres_the_default_is_one_worker_per_core_up_to_the_most_serve_allows(
    cores: int, workers: int
) -> None:
    assert default_workers(POSTGRES, cores) == (workers, "one per CPU core on PostgreSQL")


@pytest.mark.parametrize("url", ["sqlite:///creditflow.db", "sqlite:////var/lib/cf.db"])
def test_on_sqlite_the_default_is_one_worker_whatever_the_cores(url: str) -> None:
    assert default_workers(url, 8) == (1, "SQLite takes one writer at a time")


def test_the_cores_counted_are_those_this_process_may_run_on() -> None:
    assert cpu_cores() == len(os.sched_getaffinity(0))
