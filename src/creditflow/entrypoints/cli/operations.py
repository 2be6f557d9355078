"""Operators' changes to wallets: a manual or promotional grant, and the expiry run now.

Both go through the services the server uses (`WalletOperations.grant` is the operation behind
POST /v1/wallets/{user_id}/grants; `ExpiryService.expire_due` is what the server runs
periodically), so a grant from the CLI is idempotent by the same key, and an expiry from the
CLI is the one the server would have made.
"""

from __future__ import annotations

import shlex
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.text import Text

from creditflow.domain.credits import MAX_CREDITS
from creditflow.entrypoints.cli.config import open_services
from creditflow.entrypoints.cli.records import UserId
from creditflow.entrypoints.cli.render import (
    JsonFlag,
    cell,
    ledger_table,
    note,
    print_json,
    show,
    table,
)
from creditflow.entrypoints.http.schemas import WalletChangeOut
from creditflow.errors import InvalidRequest
from creditflow.services.clock import utc_now
from creditflow.services.expiry import ExpiredLot


def _timestamp(value: str) -> datetime:
    # The service, not this parser, refuses a naive or past time: the same rule as the API's.
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 time (e.g. 2027-01-31T00:00:00Z)"
        ) from exc


def grant(
    user_id: UserId,
    credits: Annotated[
        int,
        typer.Argument(
            metavar="CREDITS", help="How many credits, a positive whole number.", show_default=False
        ),
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why, as the ledger will say.", show_default=False)
    ],
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            help="The same key again grants nothing more. Default: a new key, printed first.",
            show_default=False,
        ),
    ] = None,
    expires_at: Annotated[
        datetime | None,
        typer.Option(
            "--expires-at",
            metavar="ISO8601",
            parser=_timestamp,
            help="When the credits leave the balance, with its timezone (2027-01-31T00:00:00Z).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Grant promotional or manual credits, once per idempotency key (as POST /v1/.../grants).

    The same key again prints the original result, marked replayed; with another amount, an error.
    """
    with open_services() as services:
        if idempotency_key is None:
            _refuse_hopeless(credits, expires_at)
            idempotency_key = _new_key(user_id, credits, reason, expires_at)
        change = services.wallets.grant(user_id, credits, idempotency_key, reason, expires_at)
    out = WalletChangeOut.of(user_id, change)
    if as_json:
        print_json(out)
        return
    if out.replayed:
        show(
            Text(
                f"Replayed: key {idempotency_key} already granted these credits; nothing changed. "
                f"Balance after the original grant: {out.balance} credits."
            )
        )
    else:
        expiry = out.entry.expires_at
        until = "" if expiry is None else f", expiring {cell(expiry)}"
        show(Text(f"Granted {credits} credits to {user_id}{until}; balance {out.balance} credits."))
    show(ledger_table("Ledger entry", [out.entry]))


def _refuse_hopeless(credits: int, expires_at: datetime | None) -> None:
    """A new key's grant that no retry could make succeed is refused before its key is announced.

    (Under a key given by the operator, a past expiry can still be a retry of an earlier grant:
    the service decides.)"""
    if not 0 < credits <= MAX_CREDITS:
        raise InvalidRequest(f"credits must be a positive whole number, at most {MAX_CREDITS}")
    if expires_at is None:
        return
    if expires_at.tzinfo is None:
        raise InvalidRequest("--expires-at needs a timezone (e.g. 2027-01-31T00:00:00Z)")
    if expires_at <= utc_now():
        raise InvalidRequest(f"--expires-at {expires_at.isoformat()} is in the past")


def _new_key(user_id: str, credits: int, reason: str, expires_at: datetime | None) -> str:
    """A fresh key, announced before the grant is tried: if the connection drops mid-commit, the
    operator cannot know whether it happened, and only a retry under this key is safe."""
    key = f"cli-{uuid.uuid4().hex}"
    retry = ["creditflow", "grant", user_id, str(credits), "--reason", reason]
    if expires_at is not None:
        retry += ["--expires-at", expires_at.isoformat()]
    retry += ["--idempotency-key", key]
    note(f"idempotency key {key}; to retry safely: {shlex.join(retry)}")
    return key


class WalletExpiryOut(BaseModel):
    user_id: str
    lots: int
    credits: int


class ExpiryOut(BaseModel):
    expired_credits: int
    wallets: list[WalletExpiryOut]


def expire(as_json: JsonFlag = False) -> None:
    """Expire now every lot past its date, as the server does periodically. Safe to repeat.

    Each expired lot leaves its wallet through an `expiry` ledger entry (see `creditflow ledger`).
    """
    with open_services() as services:
        expired = services.expiry.expire_due()
    out = ExpiryOut(
        expired_credits=sum(lot.credits for lot in expired), wallets=_by_wallet(expired)
    )
    if as_json:
        print_json(out)
        return
    if not expired:
        show(Text("Nothing to expire: no lot with credits left is past its date."))
        return
    show(Text(f"Expired {out.expired_credits} credits."))
    rows = [(cell(w.user_id), cell(w.lots), cell(w.credits)) for w in out.wallets]
    show(table("Expired, by wallet", ("user id", "lots", "credits"), rows))


def _by_wallet(expired: list[ExpiredLot]) -> list[WalletExpiryOut]:
    per_wallet: defaultdict[str, list[int]] = defaultdict(list)
    for lot in expired:
        per_wallet[lot.user_id].append(lot.credits)
    return [
        WalletExpiryOut(user_id=user_id, lots=len(credits), credits=sum(credits))
        for user_id, credits in sorted(per_wallet.items())
    ]
