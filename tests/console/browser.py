"""Debian's Chromium driven by Playwright, as the console's users see it: a real browser, a real
server (uvicorn on a port), no JavaScript of ours.

Playwright's own browser download is not used: `executable_path` points at the system Chromium
(`apt-get install chromium`; .ci/run installs it). Each test gets a fresh context (no cookies).
With CONSOLE_SCREENSHOTS set to a directory, the tests save each page there as PNG
(`make console-screenshots` writes docs/console/).
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright, expect

from tests.console.support import OPERATOR, PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = "CONSOLE_SCREENSHOTS"
VIEWPORT = {"width": 1100, "height": 800}


def launch(playwright: Playwright) -> Browser:
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does)")
    # Playwright's launch() gives every browser a fresh temporary profile (user data dir).
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)


def log_in(
    page: Page,
    base_url: str,
    name: str = OPERATOR,
    password: str = PASSWORD,
    *,
    going_to: str = "/console",
) -> None:
    """Through the form, by keyboard: type, Tab to the password, Enter."""
    page.goto(f"{base_url}{going_to}")
    page.get_by_label("Operator name").fill(name)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")


def logged_in(page: Page, base_url: str) -> Page:
    log_in(page, base_url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    return page


def screenshot(page: Page, name: str) -> None:
    """Into $CONSOLE_SCREENSHOTS/NAME.png when set (docs/console.md shows them)."""
    directory = os.environ.get(SCREENSHOTS)
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)
