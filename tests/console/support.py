"""The console's test set-up: an operator file, the settings that turn the console on, logging in
over HTTP (a TestClient or httpx against a real server) by reading the form as a browser would."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from creditflow.entrypoints.http.console import operators

OPERATOR = "alice"
PASSWORD = "correct horse battery staple"
CONSOLE_SECRET = "console-test-secret-0123456789abcdef"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')


def console_settings(tmp_path: Path, *names: str) -> dict[str, Any]:
    """Settings overrides with an operator file holding `names` (all with PASSWORD)."""
    path = tmp_path / "console-users"
    for name in names or (OPERATOR,):
        operators.add(path, name, PASSWORD)
    return {"console_users": path, "console_secret": SecretStr(CONSOLE_SECRET)}


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def log_in(client: httpx.Client, name: str = OPERATOR, password: str = PASSWORD) -> httpx.Response:
    form = client.get("/console/login")
    return client.post(
        "/console/login",
        data={"name": name, "password": password, "csrf": csrf_of(form), "next": "/console"},
        follow_redirects=False,
    )


def post_form(client: httpx.Client, page: str, action: str, **fields: str) -> httpx.Response:
    """Open `page`, take its CSRF token (and form key), and post `fields` to `action`."""
    shown = client.get(page)
    assert shown.status_code == 200, shown.text
    data = {"csrf": csrf_of(shown), **fields}
    key = FORM_KEY.search(shown.text)
    if key is not None and "form_key" not in fields:
        data["form_key"] = key.group(1)
    return client.post(action, data=data, follow_redirects=False)
