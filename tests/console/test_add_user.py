"""`creditflow console add-user NAME`: writes an argon2 hash the console logs in with."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from creditflow.entrypoints.cli import app
from creditflow.entrypoints.http.console import operators

PASSWORD = "a long enough password"


@pytest.fixture
def users_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "operators"
    monkeypatch.setenv("CREDITFLOW_CONSOLE_USERS", str(path))
    return path


def add_user(*args: str, given: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["console", "add-user", *args], input=given)
    return result.exit_code, result.stdout + result.stderr


def test_a_password_from_stdin_is_stored_as_an_argon2_hash_that_logs_in(users_file: Path) -> None:
    status, said = add_user("bob", "--password-stdin", given=f"{PASSWORD}\n")

    assert (status, f"added operator bob in {users_file}" in said) == (0, True)
    name, hashed = users_file.read_text().strip().split(":", 1)
    assert (name, hashed.startswith("$argon2id$"), PASSWORD in hashed) == ("bob", True, False)
    assert operators.verify(users_file, "bob", PASSWORD)
    assert not operators.verify(users_file, "bob", PASSWORD + "!")
    assert users_file.stat().st_mode & 0o077 == 0


def test_the_prompt_asks_twice_and_adding_again_replaces_the_password(users_file: Path) -> None:
    add_user("bob", "--password-stdin", given=f"{PASSWORD}\n")

    status, said = add_user("bob", given="another long password\nanother long password\n")

    assert (status, "updated operator bob" in said) == (0, True)
    assert operators.verify(users_file, "bob", "another long password")
    assert not operators.verify(users_file, "bob", PASSWORD)
    assert len(operators.read(users_file)) == 1


@pytest.mark.parametrize(
    ("name", "password", "error"),
    [
        ("bob", "short", "at least 12 characters"),
        ("bob:admin", PASSWORD, "operator name"),
        (".bob", PASSWORD, "operator name"),
    ],
)
def test_a_bad_name_or_a_short_password_is_refused_and_nothing_is_written(
    users_file: Path, name: str, password: str, error: str
) -> None:
    status, said = add_user(name, "--password-stdin", given=f"{password}\n")

    assert status != 0
    assert error in said
    assert not users_file.exists()


def test_without_the_variable_it_writes_console_users_here_and_says_what_to_set(
    tmp_path: Path,
) -> None:
    status, said = add_user("bob", "--password-stdin", given=f"{PASSWORD}\n")

    assert status == 0
    assert operators.verify(tmp_path / "console-users", "bob", PASSWORD)
    assert "set CREDITFLOW_CONSOLE_USERS=" in said
