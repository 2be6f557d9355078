"""`creditflow doctor`: check the set-up end to end and say what to fix, in plain words.

Exit status: 0 when every check is ok, 1 when any finds a problem (payments can be lost or not
verified), 2 when the worst is a warning (works, but not as it should). It reads the same
configuration as the server and changes nothing, here or in Stripe.
"""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import BaseModel
from rich.text import Text

from creditflow.bootstrap import build_container
from creditflow.entrypoints.cli.config import load_settings
from creditflow.entrypoints.cli.render import JsonFlag, cell, print_json, show, table
from creditflow.services.doctor import Finding, Level, worst

EXIT_STATUS = {Level.OK: 0, Level.PROBLEM: 1, Level.WARNING: 2}
STYLES = {Level.OK: "green", Level.WARNING: "yellow", Level.PROBLEM: "bold red"}


class FindingOut(BaseModel):
    check: str
    level: Level
    message: str
    fix: str | None


class DoctorOut(BaseModel):
    status: Level
    findings: list[FindingOut]


def doctor(
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="This service's public base URL (https://pay.example.com): only Stripe "
            "endpoints on that host count as this service's.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the database, secrets, keys, Stripe's webhook endpoints and the catalog: what to fix.

    Exits 0 when all is well, 1 on a problem, 2 on warnings only.
    """
    settings = load_settings()
    container = build_container(settings)
    try:
        findings = container.doctor.examine(public_url=url)
    finally:
        container.close()
    out = DoctorOut(
        status=worst(findings), findings=[FindingOut(**vars(finding)) for finding in findings]
    )
    if as_json:
        print_json(out)
    else:
        rows = [(cell(f.check), _level(f), _advice(f)) for f in findings]
        show(table("creditflow doctor", ("check", "status", "what and how to fix"), rows))
    raise typer.Exit(EXIT_STATUS[out.status])


def _level(finding: Finding) -> Text:
    return Text(finding.level.value, style=STYLES[finding.level])


def _advice(finding: Finding) -> Text:
    return cell(finding.message + (f"\n→ {finding.fix}" if finding.fix else ""))
