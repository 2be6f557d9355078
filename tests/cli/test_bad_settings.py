"""A typo in the configuration, as every command answers it: one line, or JSON with `--json`.

`CREDITFLOW_DATABASE_URL` is checked once, when the settings are read, so no command gets as far
as SQLAlchemy with a URL it cannot use (which answered with a 60-line traceback).
"""

from __future__ import annotations

import json

import pytest

from creditflow.settings import Settings
from tests.cli.support import cli, one_line_error

BAD_URLS = {
    "garbage": "is not a database URL",
    "mysql://x:s3cret-pw@y/z": "unsupported database (mysql)",
    "postgresql://u:s3cret-pw@h:notaport/db": "is not a database URL",
    "postgresql://u:s3cret-pw@h:70000/db": "port 70000",
}
# Every command, with the arguments it needs to get as far as reading the configuration.
COMMANDS = (
    ("serve",),
    ("migrate",),
    ("doctor",),
    ("wallet", "alice"),
    ("ledger", "alice"),
    ("audit",),
    ("pending",),
    ("events",),
    ("replay", "evt_1"),
    ("users", "add", "alice"),
    ("grant", "alice", "5", "--reason", "welcome"),
    ("expire",),
    ("reconcile", "--since", "2026-01-01T00:00:00Z"),
    ("trigger", "checkout.session.completed", "--user", "alice"),
    ("verify",),
)


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("command", [("doctor",), ("serve",), ("migrate",), ("wallet", "a")])
def test_a_bad_database_url_is_one_line_naming_the_accepted_forms_never_the_password(
    url: str, command: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", url)

    line = one_line_error(cli(*command))

    assert "CREDITFLOW_DATABASE_URL" in line
    assert BAD_URLS[url] in line
    assert "sqlite:///" in line  # the forms that work
    assert "postgresql://" in line
    assert "s3cret-pw" not in line


def test_the_platforms_postgres_url_forms_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    for url in ("postgres://u@h/db", "postgresql://u@h:5432/db", "postgresql+psycopg://u@h/db"):
        monkeypatch.setenv("CREDITFLOW_DATABASE_URL", url)
        assert Settings().database_url.startswith("postgresql+psycopg://u@h")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command[0])
def test_with_json_every_command_reports_a_bad_setting_as_json_on_stdout(
    command: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", "mysql://x:s3cret-pw@y/z")

    result = cli(*command, "--json")

    assert result.exit_code == 1, (result.stdout, result.stderr)
    body = json.loads(result.stdout)
    assert body["error"]["code"] == "not_configured"
    assert "CREDITFLOW_DATABASE_URL" in body["error"]["message"]
    assert "s3cret-pw" not in result.stdout + result.stderr
