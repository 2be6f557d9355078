"""Operators' commands straight on the configured database, through the same services as the API.

They need no running server (nor the API key): an operator with database access can register a
user, read a wallet, or replay a parked delivery after fixing the catalog.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from creditflow.domain.statuses import DeliveryStatus
from creditflow.entrypoints.cli.config import open_services
from creditflow.entrypoints.cli.render import (
    JsonFlag,
    cell,
    ledger_table,
    listing,
    print_json,
    show,
    table,
)
from creditflow.entrypoints.http.schemas import (
    EventOut,
    EventsOut,
    LedgerEntryOut,
    LedgerPageOut,
    PendingGrantOut,
    PendingGrantsOut,
    RegistrationOut,
    ReplayOut,
    UserOut,
    WalletOut,
)
from creditflow.services.users import KEEP_EMAIL

UserId = Annotated[
    str, typer.Argument(metavar="USER_ID", help="The app's user id.", show_default=False)
]
Limit = Annotated[int, typer.Option("--limit", min=1, max=500, help="At most this many rows.")]


def users_add(
    user_id: UserId,
    email: Annotated[
        str | None, typer.Option("--email", help="Their e-mail (Payment Link buyers match it).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register (or update) a user and claim the pending grants waiting for their id or e-mail."""
    with open_services() as services:
        registration = services.users.register(user_id, KEEP_EMAIL if email is None else email)
    out = RegistrationOut(
        user=UserOut.of(registration.user),
        created=registration.created,
        balance=registration.balance,
        claimed=[PendingGrantOut.of(grant) for grant in registration.claimed],
    )
    if as_json:
        print_json(out)
        return
    verb = "registered" if out.created else "updated"
    who = out.user.id + (f" <{out.user.email}>" if out.user.email else "")
    show(Text(f"User {who} {verb}; balance {out.balance} credits."))
    if out.claimed:
        show(_grants_table("Claimed pending grants", out.claimed))
    else:
        show(Text("No pending grants were waiting for this user."))


def wallet(user_id: UserId, as_json: JsonFlag = False) -> None:
    """Show a user's balance."""
    with open_services() as services:
        out = WalletOut.of(*services.holds.wallet(user_id))
    if as_json:
        print_json(out)
        return
    held = f", {out.held} held, {out.available} available" if out.held else ""
    show(Text(f"{out.user_id}: {out.balance} credits{held} (last change {cell(out.updated_at)})"))


def ledger(
    user_id: UserId,
    limit: Limit = 50,
    before: Annotated[
        int | None, typer.Option("--before", help="Only entries older than this entry id.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a user's ledger entries, newest first: every change of the balance, with its reason."""
    with open_services() as services:
        entries = services.queries.ledger(user_id, limit=limit, before_id=before)
    out = LedgerPageOut(
        user_id=user_id,
        entries=[LedgerEntryOut.of(entry) for entry in entries],
        next_before=entries[-1].id if len(entries) == limit else None,
    )
    if as_json:
        print_json(out)
        return
    show(
        listing(
            ledger_table(f"Ledger of {user_id}", out.entries), f"No ledger entries for {user_id}."
        )
    )
    if out.next_before is not None:
        show(Text(f"Older entries: creditflow ledger {user_id} --before {out.next_before}"))


def pending(limit: Limit = 100, as_json: JsonFlag = False) -> None:
    """List unclaimed pending grants: paid credits waiting for their buyer to be registered."""
    with open_services() as services:
        grants = services.queries.pending_grants(limit=limit)
    out = PendingGrantsOut(pending_grants=[PendingGrantOut.of(grant) for grant in grants])
    if as_json:
        print_json(out)
        return
    show(listing(_grants_table("Pending grants", out.pending_grants), "No pending grants."))


def _grants_table(title: str, grants: list[PendingGrantOut]) -> Table:
    columns = ("id", "purchase", "user id", "e-mail", "credits", "since")
    rows = [
        (
            cell(grant.id),
            cell(grant.purchase_id),
            cell(grant.user_id),
            cell(grant.email),
            cell(grant.credits),
            cell(grant.created_at),
        )
        for grant in grants
    ]
    return table(title, columns, rows, whole=("id", "purchase", "user id"))


def events(
    status: Annotated[
        DeliveryStatus | None, typer.Option("--status", help="Only deliveries with this outcome.")
    ] = None,
    limit: Limit = 100,
    as_json: JsonFlag = False,
) -> None:
    """List stored webhook deliveries and their outcomes (e.g. --status needs_attention)."""
    with open_services() as services:
        found = services.queries.events(status=status, limit=limit)
    out = EventsOut(events=[EventOut.of(event) for event in found])
    if as_json:
        print_json(out)
        return
    columns = ("event", "type", "status", "received", "deliveries", "reason")
    rows = [
        (
            cell(event.id),
            cell(event.type),
            cell(event.status),
            cell(event.received_at),
            cell(event.delivery_count),
            cell(event.error),
        )
        for event in out.events
    ]
    title = "Stored deliveries" + (f" ({status.value})" if status else "")
    empty = "No events stored" + (f" with status {status.value}." if status else ".")
    show(listing(table(title, columns, rows, whole=("event",)), empty))


def replay(
    event_id: Annotated[
        str, typer.Argument(metavar="EVENT_ID", help="The stored event id (evt_...).")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Process a stored delivery again, e.g. after fixing the catalog. Never grants twice.

    Exits with status 1 when the delivery still needs attention or failed again.
    """
    with open_services() as services:
        result = services.deliveries.replay(event_id)
    out = ReplayOut(event_id=result.event_id, status=result.status.value, error=result.error)
    if as_json:
        print_json(out)
    else:
        show(Text(f"{out.event_id}: {out.status}" + (f" ({out.error})" if out.error else "")))
    if result.status in (DeliveryStatus.NEEDS_ATTENTION, DeliveryStatus.FAILED):
        raise typer.Exit(1)
