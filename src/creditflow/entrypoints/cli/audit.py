"""`creditflow audit`: every money invariant of docs/design.md, checked over the whole database.

A command of its own, apart from the commands that change wallets: it only reads, it is what a
cron job or a test runs after everything else, and its exit status is its result (0: all hold;
1: a breach, named on stderr with the rows that break it).
"""

from __future__ import annotations

from dataclasses import asdict

import typer
from pydantic import BaseModel
from rich.text import Text

from creditflow.entrypoints.cli.config import open_services
from creditflow.entrypoints.cli.render import JsonFlag, cell, error, print_json, show, table


class InvariantOut(BaseModel):
    invariant: str
    description: str
    holds: bool
    breaches: list[str]


class AuditOut(BaseModel):
    ok: bool
    invariants: list[InvariantOut]


def audit(as_json: JsonFlag = False) -> None:
    """Check every invariant over the whole database; exit 1 naming each breach.

    All invariants are read in one transaction, so they describe one moment of the database.
    """
    with open_services() as services:
        findings = services.audit.run()
    invariants = [InvariantOut(**asdict(finding), holds=finding.holds) for finding in findings]
    breached = [invariant for invariant in invariants if not invariant.holds]
    out = AuditOut(ok=not breached, invariants=invariants)
    if as_json:
        print_json(out)
    else:
        rows = [(cell(i.invariant), _status(i), _details(i)) for i in out.invariants]
        show(table("Invariants", ("invariant", "status", "details"), rows))
    if breached:
        named = " | ".join(f"{i.invariant}: {'; '.join(i.breaches)}" for i in breached)
        error(f"{len(breached)} of {len(invariants)} invariants breached: {named}")
        raise typer.Exit(1)


def _status(invariant: InvariantOut) -> Text:
    return Text("ok", style="green") if invariant.holds else Text("BREACH", style="bold red")


def _details(invariant: InvariantOut) -> Text:
    """What the invariant says and, when it is breached, the rows that break it."""
    return cell("\n".join([invariant.description, *(f"- {row}" for row in invariant.breaches)]))
