"""Fixtures of the console tests (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import ClientFactory
from tests.console.browser import VIEWPORT, launch
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


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One Chromium per test worker; each test opens its own context (cookies, storage)."""
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    opened = context.new_page()
    opened.on("dialog", lambda dialog: pytest.fail(f"a script ran: {dialog.message}"))
    yield opened
    context.close()
