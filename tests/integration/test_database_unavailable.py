"""When the database cannot be reached, answer 503 so Stripe retries later; never a false 200."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from creditflow.entrypoints.http import create_app
from tests.conftest import scratch_postgres_database
from tests.support import deliver, error_of, make_settings, paid_session_event


@pytest.fixture
def client(unreachable_database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(unreachable_database_url))) as client:
        yield client


def test_health_check_reports_an_unreachable_database_with_503(client: TestClient) -> None:
    assert error_of(client.get("/healthz")) == (503, "database_unavailable")


def test_a_load_balancers_head_health_check_reports_it_too(client: TestClient) -> None:
    response = client.head("/healthz")

    assert (response.status_code, response.content) == (503, b"")


def test_a_genuine_delivery_is_answered_503_so_stripe_retries_it(client: TestClient) -> None:
    response = deliver(client, paid_session_event(user_id="user_1"))

    assert error_of(response) == (503, "database_unavailable")


@pytest.fixture
def unmigrated_database_url(database_url: str, tmp_path: Path, worker_id: str) -> Iterator[str]:
    """A database of the same engine that exists but has no tables yet."""
    if make_url(database_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with scratch_postgres_database(f"creditflow_unmigrated_{worker_id}") as url:
        yield url


def test_a_database_never_migrated_is_answered_503_naming_the_fix(
    unmigrated_database_url: str,
) -> None:
    with TestClient(create_app(make_settings(unmigrated_database_url))) as client:
        response = deliver(client, paid_session_event(user_id="user_1"))

    assert error_of(response) == (503, "database_unavailable")
    assert "creditflow migrate" in response.json()["error"]["message"]
