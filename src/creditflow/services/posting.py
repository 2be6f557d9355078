"""The one way a service changes a balance: load the wallet, let the domain decide, store.

The wallet row is locked by the load, so concurrent postings to one wallet queue up and each
decides on every committed entry; the entry's unique key (docs/design.md, the key scheme) is
checked in that same load, so a posting already made changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from creditflow.domain.wallet import (
    Conflicting,
    LedgerEntry,
    Posted,
    Posting,
    Refusal,
    Refused,
    Replayed,
    WalletState,
    decide,
)
from creditflow.errors import InsufficientCredits, InvalidRequest
from creditflow.services.unit_of_work import UnitOfWork

Outcome = LedgerEntry | Replayed | Conflicting | Refused


def post(
    uow: UnitOfWork, posting: Posting, now: datetime, loaded: WalletState | None = None
) -> LedgerEntry | None:
    """The entry posted; None if its key was posted before. Refused: InsufficientCredits."""
    outcome = post_or_explain(uow, posting, now, loaded)
    if isinstance(outcome, Refused):
        raise refusal_error(posting, outcome)
    return outcome if isinstance(outcome, LedgerEntry) else None


def post_or_explain(
    uow: UnitOfWork, posting: Posting, now: datetime, loaded: WalletState | None = None
) -> Outcome:
    """The entry stored, or why none was: for callers that answer a replay or a refusal.

    `loaded` is the wallet if the caller loaded it already, for this posting's key and
    purchase (under the lock this transaction holds), to decide on what it read.
    """
    if loaded is None:
        loaded = uow.wallets.load(posting.user_id, posting.key, posting.purchase_id, now=now)
    decision = decide(loaded, posting, now)
    if isinstance(decision, Posted):
        return uow.wallets.store(decision)
    return decision


def refusal_error(posting: Posting, refused: Refused) -> InsufficientCredits | InvalidRequest:
    if refused.why is Refusal.ALREADY_EXPIRED:
        return InvalidRequest("expires_at is in the past")
    if refused.available is None:
        return InsufficientCredits(
            f"{posting.user_id} has {refused.balance} credits, {-posting.delta} needed",
            balance=refused.balance,
        )
    return InsufficientCredits(
        f"{posting.user_id} has {refused.available} credits available "
        f"({refused.balance - refused.available} held), {-posting.delta} needed",
        balance=refused.balance,
        available=refused.available,
    )
