"""Fixtures of the fault tests: their scale, their seeded randomness, a PostgreSQL of their own,
the app on the shared PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from creditflow.adapters.db import migrate
from creditflow.adapters.db.engine import build_engine
from creditflow.entrypoints.http import create_app
from tests.conftest import sqlite_database
from tests.faults.postgres_cluster import ThrowawayPostgres, throwaway_postgres, why_unavailable
from tests.support import assert_database_audit_clean, make_settings

LONG_SCALE = 10


@pytest.fixture
def fault_scale(request: pytest.FixtureRequest) -> int:
    """1 in `make test` (seconds per test); LONG_SCALE times the load and faults with --long."""
    return LONG_SCALE if request.config.getoption("--long") else 1


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """The test's random choices (workload, fault moments) from a fixed seed, printed so that a
    failure can be replayed with `--fault-seed`."""
    seed = request.config.getoption("--fault-seed")
    print(f"{request.node.name}: --fault-seed={seed}")
    return random.Random(f"{seed}:{request.node.name}")


@pytest.fixture
def own_postgres() -> Iterator[ThrowawayPostgres]:
    """A migrated PostgreSQL cluster of this test's own, which it may stop and start."""
    reason = why_unavailable()
    if reason is not None:
        pytest.skip(
            f"{reason}: the stop/start test needs a throwaway PostgreSQL cluster of its own "
            "(it never stops the shared server)"
        )
    with throwaway_postgres() as cluster:
        engine = build_engine(cluster.url)
        migrate.upgrade(engine)
        engine.dispose()
        yield cluster


@pytest.fixture(params=["sqlite", "postgres"])
def own_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each engine for the tests under load: one SQLite file, or a
    PostgreSQL cluster of the test's own. Several server processes under load open enough
    connections to take the shared server to its `max_connections` next to other suites
    (measured: 101 of 100), and then everyone's connections are refused."""
    if request.param == "sqlite":
        return sqlite_database(request, tmp_path)
    cluster: ThrowawayPostgres = request.getfixturevalue("own_postgres")
    return cluster.url


@pytest.fixture
def app_client(postgres_url: str) -> Iterator[TestClient]:
    """The app on PostgreSQL; an unhandled error is a 500, as a real server answers it."""
    with TestClient(
        create_app(make_settings(postgres_url)), raise_server_exceptions=False
    ) as client:
        yield client
    assert_database_audit_clean(postgres_url)


@pytest.fixture(params=[False, True], ids=["one-transaction-each", "group-commit"])
def group_commit(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def spending_client(postgres_url: str, group_commit: bool) -> Iterator[TestClient]:
    """`app_client`, spending in transactions of their own or in batches (group commit)."""
    settings = make_settings(postgres_url, group_commit=group_commit)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client
    assert_database_audit_clean(postgres_url)
