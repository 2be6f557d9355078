"""`creditflow reconcile`: process the events Stripe has and the inbox lacks (missed webhooks).

Safe to run any number of times, and while live webhooks arrive: each event goes through the
webhook's own path, so nothing is granted twice. `--dry-run` only lists what is missing.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.text import Text

from creditflow.entrypoints.cli.config import open_services
from creditflow.entrypoints.cli.render import JsonFlag, cell, note, print_json, show, stderr, table
from creditflow.errors import InvalidRequest, NotConfigured


def _moment(value: str) -> datetime:
    """A date (2026-11-01) or an ISO 8601 time; without a timezone it is UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date or an ISO 8601 time") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class ReconcileOut(BaseModel):
    since: datetime
    until: datetime | None
    dry_run: bool
    seen: int
    already_had: int
    processed: int
    needs_attention: int
    failed: int
    unchanged: int
    missing: list[str]


def reconcile(
    since: Annotated[
        datetime,
        typer.Option(
            "--since",
            metavar="DATE",
            parser=_moment,
            help="List events created from then (Stripe keeps 30 days).",
            show_default=False,
        ),
    ],
    until: Annotated[
        datetime | None,
        typer.Option("--until", metavar="DATE", parser=_moment, help="…and before then."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what is missing; change nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Process the Stripe events of the handled types that the inbox lacks; print a report."""
    if until is not None and until <= since:
        raise InvalidRequest("--until must be after --since")
    with open_services() as services:
        if services.reconciler is None:
            raise NotConfigured("STRIPE_SECRET_KEY is not set: reconcile has no Stripe to ask")
        if since < services.reconciler.earliest():
            note("Stripe keeps events for 30 days: listing from 30 days ago")
        with _progress(enabled=not as_json and sys.stderr.isatty()) as bar:
            task = bar.add_task("events", total=None)
            report = services.reconciler.run(
                since,
                until,
                dry_run=dry_run,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    out = ReconcileOut(**vars(report))
    if as_json:
        print_json(out)
        return
    fulfilled = ("missing", len(out.missing)) if out.dry_run else ("newly processed", out.processed)
    counts = [
        ("seen", out.seen),
        ("already had", out.already_had),
        fulfilled,
        ("needing attention", out.needs_attention),
        ("failed", out.failed),
        ("nothing to do", out.unchanged),
    ]
    rows = [(cell(label), cell(count)) for label, count in counts]
    title = f"Stripe events since {cell(out.since)}"
    if dry_run:
        title += " (dry run: nothing changed)"
    show(table(title, ("", "events"), rows))
    if out.dry_run and out.missing:
        show(Text("Missing: " + ", ".join(out.missing)))


def _progress(*, enabled: bool) -> Progress:
    return Progress(
        TextColumn("reconciling"),
        BarColumn(),
        MofNCompleteColumn(),
        console=stderr(),
        disable=not enabled,
        transient=True,
    )
