"""`migrate`, and what every command says about a database it cannot use.

A newcomer's first errors are about set-up: no database yet, a PostgreSQL schema not migrated,
a server that is down, a typo in a variable. Each gets one line saying what to do.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from creditflow.adapters.db.migrate import head_revision
from tests.cli.support import clean_environment, cli, one_line_error
from tests.servers import free_port

HEAD = head_revision()


def test_migrate_creates_the_default_sqlite_database_and_is_safe_to_run_again(
    tmp_path: Path,
) -> None:
    first = cli("migrate")
    again = cli("migrate")

    assert first.exit_code == 0, first.stderr
    assert f"migrated from revision (empty) to {HEAD}" in first.stdout
    assert f"already at revision {HEAD}" in again.stdout
    assert (tmp_path / "creditflow.db").exists()


def test_migrate_upgrades_an_empty_postgres_database_and_hides_its_password(
    blank_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_password = make_url(blank_postgres_url).set(password="s3cret-pw")
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", with_password.render_as_string(False))

    result = cli("migrate")

    assert result.exit_code == 0, result.stderr
    assert f"to {HEAD}" in result.stdout
    assert "s3cret-pw" not in result.stdout
    assert cli("pending").exit_code == 0


def test_serve_refuses_an_unmigrated_postgres_database_and_names_the_fix(
    blank_postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A process with a deadline: were the check missing, `serve` would listen, not return.
    refused = subprocess.run(
        [sys.executable, "-m", "creditflow", "serve", "--port", str(free_port())],
        env=clean_environment(CREDITFLOW_DATABASE_URL=blank_postgres_url),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", blank_postgres_url)
    records = cli("events")

    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"error: database {make_url(blank_postgres_url).render_as_string()} has no creditflow "
        "schema yet: run `creditflow migrate`"
    ]
    assert "run `creditflow migrate`" in one_line_error(records)


def test_commands_on_a_missing_sqlite_database_say_how_to_create_it_and_create_nothing(
    tmp_path: Path,
) -> None:
    result = cli("wallet", "ada")

    assert "there is no database at" in one_line_error(result)
    assert "`creditflow serve` creates it" in result.stderr
    assert not (tmp_path / "creditflow.db").exists()


def test_an_unreachable_database_is_reported_in_one_line_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "CREDITFLOW_DATABASE_URL", "postgresql://creditflow:s3cret-pw@127.0.0.1:1/creditflow"
    )

    for args in (("events",), ("migrate",)):
        error = one_line_error(cli(*args))
        assert "connection failed" in error.lower() or "refused" in error.lower()
        assert "s3cret-pw" not in error


def test_invalid_configuration_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITFLOW_REFUND_POLICY", "sometimes")

    error = one_line_error(cli("pending"))

    assert "invalid configuration" in error
    assert "CREDITFLOW_REFUND_POLICY" in error


def test_python_dash_m_creditflow_is_the_same_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "creditflow", "--help"],
        env=clean_environment(COLUMNS="200"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Usage: creditflow" in result.stdout
    for command in ("serve", "migrate", "trigger", "verify", "users", "wallet", "replay"):
        assert command in result.stdout
