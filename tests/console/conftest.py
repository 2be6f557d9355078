"""Fixtures of the console tests (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ClientFactory
from tests.console.support import console_settings, log_in


@pytest.fixture
def console(client_for: ClientFactory, tmp_path: Path) -> TestClient:
    """The app with the console on and one operator (alice), not logged in."""
    return client_for(**console_settings(tmp_path))


@pytest.fixture
def operator_client(console: TestClient) -> TestClient:
    """`console`, logged in as alice."""
    assert log_in(console).status_code == 303
    return console
