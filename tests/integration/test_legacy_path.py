"""The legacy webhook path: 404 unless enabled; when enabled, the same handler, with a warning.

Stripe may be configured with both paths during a migration, so every event can arrive twice,
once at each path. Credits are granted once.
"""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from creditflow.settings import LEGACY_WEBHOOK_PATH, WEBHOOK_PATH
from tests.conftest import ClientFactory
from tests.support import (
    balance,
    deliver,
    error_of,
    ledger,
    paid_session_event,
    register,
    stored_event,
    table_snapshot,
)

WEBHOOK_LOGGER = "creditflow.entrypoints.http.webhook"


@pytest.fixture
def legacy_client(client_for: ClientFactory) -> TestClient:
    client = client_for(legacy_webhook=True)
    register(client, "user_1", "ada@example.com")
    return client


def deprecation_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == WEBHOOK_LOGGER
        and record.levelno == logging.WARNING
        and LEGACY_WEBHOOK_PATH in record.getMessage()
        and "deprecated" in record.getMessage()
    ]


def test_the_legacy_path_is_a_json_404_and_changes_nothing_unless_enabled(
    client: TestClient, database_url: str
) -> None:
    register(client, "user_1")
    before = table_snapshot(database_url)

    response = deliver(client, paid_session_event(user_id="user_1"), path=LEGACY_WEBHOOK_PATH)

    assert error_of(response) == (404, "not_found")
    assert table_snapshot(database_url) == before


def test_a_delivery_at_the_enabled_legacy_path_credits_like_the_canonical_path_and_warns(
    legacy_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    event = paid_session_event(user_id="user_1", credits=250)

    with caplog.at_level(logging.WARNING, logger=WEBHOOK_LOGGER):
        response = deliver(legacy_client, event, path=LEGACY_WEBHOOK_PATH)

    assert response.status_code == 200
    assert response.json() == {"event_id": event["id"], "status": "processed", "error": None}
    assert balance(legacy_client, "user_1") == 250
    assert stored_event(legacy_client, event["id"])["status"] == "processed"
    assert len(deprecation_warnings(caplog)) == 1


def test_the_canonical_path_does_not_log_the_deprecation_warning(
    legacy_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=WEBHOOK_LOGGER):
        response = deliver(legacy_client, paid_session_event(user_id="user_1"))

    assert response.json()["status"] == "processed"
    assert deprecation_warnings(caplog) == []


@pytest.mark.parametrize(
    "paths",
    [(WEBHOOK_PATH, LEGACY_WEBHOOK_PATH), (LEGACY_WEBHOOK_PATH, WEBHOOK_PATH)],
    ids=["canonical-first", "legacy-first"],
)
def test_the_same_event_delivered_at_both_paths_grants_once(
    legacy_client: TestClient, paths: tuple[str, str]
) -> None:
    event = paid_session_event(user_id="user_1", credits=100)

    first, second = (deliver(legacy_client, event, path=path) for path in paths)

    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["status"], second.json()["status"]) == ("processed", "duplicate")
    assert balance(legacy_client, "user_1") == 100
    assert [entry["delta"] for entry in ledger(legacy_client, "user_1")] == [100]
    assert stored_event(legacy_client, event["id"])["delivery_count"] == 2


def test_the_legacy_path_checks_signatures_like_the_canonical_path(
    legacy_client: TestClient, database_url: str
) -> None:
    before = table_snapshot(database_url)

    response = deliver(
        legacy_client, paid_session_event(user_id="user_1"), path=LEGACY_WEBHOOK_PATH, secret="x"
    )

    assert error_of(response) == (400, "invalid_signature")
    assert table_snapshot(database_url) == before
