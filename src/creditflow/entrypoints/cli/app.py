"""The `creditflow` command: the same configuration and services as the server, for operators.

Every command builds its settings when it runs (environment, then `./.env`). Our errors become
exit statuses here, and only here (`reporting`, wrapped around every command as it is
registered): one line on stderr, status 1; with `--json`, `{"error": {"code", "message"}}` on
stdout instead, with the same status. Usage mistakes stay Typer's (status 2, with the
usage); anything else is a bug and shows its traceback, without local variables, which could
hold secrets.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec

import typer

from creditflow.entrypoints.cli import (
    audit,
    console,
    doctor,
    holds,
    operations,
    reconcile,
    records,
    server,
    stripe_test,
    subscriptions,
    verify,
)
from creditflow.entrypoints.cli.render import error, print_json
from creditflow.errors import CreditflowError

EXIT_FAILURE = 1
P = ParamSpec("P")


def reporting(command: Callable[P, None]) -> Callable[P, None]:
    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except CreditflowError as exc:
            if kwargs.get("as_json"):
                print_json({"error": {"code": exc.code, "message": exc.message}})
            else:
                error(exc.message)
            raise typer.Exit(EXIT_FAILURE) from exc

    return run


app = typer.Typer(
    name="creditflow",
    help="Stripe payments in, credits in wallets out, exactly once.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
users = typer.Typer(help="Register and update users.", no_args_is_help=True)

app.command(rich_help_panel="Server")(reporting(server.serve))
app.command(rich_help_panel="Server")(reporting(server.migrate))
app.command(rich_help_panel="Testing")(reporting(stripe_test.trigger))
app.command(rich_help_panel="Testing")(reporting(verify.verify))
app.add_typer(users, name="users", rich_help_panel="Records")
users.command("add")(reporting(records.users_add))
console_commands = typer.Typer(help="The operator console (/console).", no_args_is_help=True)
app.add_typer(console_commands, name="console", rich_help_panel="Operations")
console_commands.command("add-user")(reporting(console.add_user))
for record_command in (
    records.wallet,
    records.ledger,
    records.pending,
    records.events,
    records.replay,
):
    app.command(rich_help_panel="Records")(reporting(record_command))
# `grant alice -5`: a negative amount is read as the amount (and refused in words), not as an
# unknown option "-5".
app.command(rich_help_panel="Operations", context_settings={"ignore_unknown_options": True})(
    reporting(operations.grant)
)
hold = typer.Typer(help="Act on one hold.", no_args_is_help=True)
app.add_typer(hold, name="hold", rich_help_panel="Operations")
hold.command("void")(reporting(holds.void))
app.command(rich_help_panel="Records")(reporting(holds.holds))
app.command(rich_help_panel="Records")(reporting(subscriptions.subscriptions))
for operation in (
    operations.expire,
    reconcile.reconcile,
    audit.audit,
    doctor.doctor,
):
    app.command(rich_help_panel="Operations")(reporting(operation))


def main() -> None:
    app(prog_name="creditflow")
