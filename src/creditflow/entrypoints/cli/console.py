"""`creditflow console add-user NAME`: who may log in to the operator console (/console).

The password is asked for twice on a terminal, or read from stdin (`--password-stdin`) for
scripts; only its argon2 hash is written, to the file CREDITFLOW_CONSOLE_USERS names.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from creditflow.entrypoints.cli.config import load_settings
from creditflow.entrypoints.http.console import operators

DEFAULT_FILE = Path("console-users")


def add_user(
    name: Annotated[str, typer.Argument(help="The operator's name, shown beside what they do.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
) -> None:
    """Add an operator to the console, or set a new password for one."""
    operators.check_name(name)
    path = load_settings().console_users or DEFAULT_FILE
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    created = operators.add(path, name, password)
    typer.echo(f"{'added' if created else 'updated'} operator {name} in {path}")
    if load_settings().console_users is None:
        typer.echo(
            f"set CREDITFLOW_CONSOLE_USERS={path.resolve()} (and CREDITFLOW_CONSOLE_SECRET) "
            "for the server to use it"
        )
