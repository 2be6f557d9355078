"""`creditflow subscriptions`: what creditflow knows of subscriptions, and the grants they made."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from creditflow.entrypoints.cli.config import open_services
from creditflow.entrypoints.cli.records import Limit
from creditflow.entrypoints.cli.render import JsonFlag, cell, listing, print_json, show, table
from creditflow.entrypoints.http.subscriptions import SubscriptionOut, SubscriptionsOut


def subscriptions(
    user_id: Annotated[
        str | None,
        typer.Argument(metavar="[USER_ID]", help="Only this user's (default: everyone's)."),
    ] = None,
    limit: Limit = 100,
    as_json: JsonFlag = False,
) -> None:
    """List subscriptions, newest first: status, current period, credits per period, grants."""
    with open_services() as services:
        found = services.queries.subscriptions(user_id=user_id, limit=limit)
    out = SubscriptionsOut(subscriptions=[SubscriptionOut.of(view) for view in found])
    if as_json:
        print_json(out)
        return
    headers = ("subscription", "user id", "status", "period ends", "credits/period", "grants")
    rows = [
        (
            cell(sub.subscription_id),
            cell(sub.user_id),
            cell(sub.status),
            cell(sub.current_period_end),
            cell(sub.credits_per_period),
            cell(_grants(sub)),
        )
        for sub in out.subscriptions
    ]
    title = "Subscriptions" + ("" if user_id is None else f" of {user_id}")
    grid = table(title, headers, rows, whole=("subscription", "user id"))
    show(listing(grid, "No subscriptions." if user_id is None else f"{user_id} has none."))
    if user_id is not None:
        show(Text(f"Each grant's entry: creditflow ledger {user_id}"))


def _grants(sub: SubscriptionOut) -> str:
    """Each grant as `invoice: credits (status)`, newest first."""
    return "\n".join(f"{g.invoice_id}: {g.credits} ({g.status})" for g in sub.grants) or "none"
