"""Operators' commands on holds: list a wallet's holds, void one that an app left open."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from creditflow.domain.holds import HoldStatus
from creditflow.entrypoints.cli.config import open_services
from creditflow.entrypoints.cli.records import UserId
from creditflow.entrypoints.cli.render import JsonFlag, cell, listing, print_json, show, table
from creditflow.entrypoints.http.holds import HoldChangeOut, HoldOut, HoldsOut

HoldId = Annotated[
    str, typer.Argument(metavar="HOLD_ID", help="The hold's id (hold_...).", show_default=False)
]


def holds(
    user_id: UserId,
    status: Annotated[
        HoldStatus | None, typer.Option("--status", help="Only holds in this status.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a user's holds, newest first (a held hold past its expiry shows as expired)."""
    with open_services() as services:
        found = services.holds.of_wallet(user_id, status)
        out = HoldsOut(
            user_id=user_id, holds=[HoldOut.of(h, services.holds.status_now(h)) for h in found]
        )
    if as_json:
        print_json(out)
        return
    headers = ("id", "status", "credits", "captured", "released", "expires at", "reason")
    rows = [
        (
            cell(h.id),
            cell(h.status.value),
            cell(h.credits),
            cell(h.captured),
            cell(h.released),
            cell(h.expires_at),
            cell(h.reason),
        )
        for h in out.holds
    ]
    grid = table(f"Holds of {user_id}", headers, rows, whole=("id",))
    show(listing(grid, f"{user_id} has no holds."))


def void(hold_id: HoldId, as_json: JsonFlag = False) -> None:
    """Release a hold's credits (an app that will never capture it). Safe to repeat."""
    with open_services() as services:
        out = HoldChangeOut.of_result(services.holds.void(hold_id))
    if as_json:
        print_json(out)
        return
    again = " (it was already voided)" if out.replayed else ""
    show(
        Text(
            f"Voided {out.id}{again}: {out.released} credits released; "
            f"{out.user_id} has {out.available} of {out.balance} credits available."
        )
    )
