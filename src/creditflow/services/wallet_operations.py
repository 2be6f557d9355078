"""What the app does to a wallet: spend credits, grant promotional or manual credits.

Both are idempotent by the caller's key: the key is part of the ledger entry's unique key, so a
retried request finds the original entry and returns it instead of moving credits again. The same
key with a different request is a client bug and is refused (409), never silently merged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from creditflow.domain.credits import MAX_CREDITS
from creditflow.domain.keys import grant_key, spend_key
from creditflow.domain.kinds import EntryKind
from creditflow.domain.wallet import Conflicting, LedgerEntry, Posting, Replayed
from creditflow.errors import Conflict, InsufficientCredits, InvalidRequest
from creditflow.services.clock import Clock
from creditflow.services.observer import NO_OBSERVER, Observer
from creditflow.services.posting import Outcome, post_or_explain, refusal_error
from creditflow.services.unit_of_work import UnitOfWorkFactory

MAX_KEY_LENGTH = 200
MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class WalletChange:
    entry: LedgerEntry
    balance: int
    replayed: bool


class WalletOperations:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, observer: Observer = NO_OBSERVER
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._observer = observer

    def spend(self, user_id: str, credits: int, idempotency_key: str, reason: str) -> WalletChange:
        """Take credits, never below zero (402 with the balance otherwise)."""
        posting = spend_posting(user_id, credits, idempotency_key, reason)
        try:
            return self._apply(posting)
        except InsufficientCredits as exc:
            self._observer.spend_refused(exc.code)
            raise

    def grant(
        self,
        user_id: str,
        credits: int,
        idempotency_key: str,
        reason: str,
        expires_at: datetime | None,
    ) -> WalletChange:
        """Promotional or manual credits, in a lot of their own (spent before paid credits).

        The expiry is part of the request its key stands for: a retry is checked against the
        original before the expiry is, so a retry after `expires_at` returns the original result.
        """
        return self._apply(grant_posting(user_id, credits, idempotency_key, reason, expires_at))

    def _apply(self, posting: Posting) -> WalletChange:
        """Post, or answer a retry with its original result (the load finds it by its key)."""
        with self._uow() as uow:
            outcome = post_or_explain(uow, posting, self._clock())
            if isinstance(outcome, LedgerEntry):
                uow.commit()
        return wallet_change(posting, outcome)


def spend_posting(user_id: str, credits: int, idempotency_key: str, reason: str) -> Posting:
    """A spend as the ledger posts it; InvalidRequest for values no spend may have."""
    validate_change(credits, idempotency_key, reason)
    return Posting(
        user_id=user_id,
        delta=-credits,
        kind=EntryKind.SPEND,
        reference=idempotency_key,
        key=spend_key(user_id, idempotency_key),
        reason=reason,
    )


def grant_posting(
    user_id: str, credits: int, idempotency_key: str, reason: str, expires_at: datetime | None
) -> Posting:
    """A grant as the ledger posts it, its expiry in UTC; InvalidRequest for bad values."""
    validate_change(credits, idempotency_key, reason)
    return Posting(
        user_id=user_id,
        delta=credits,
        kind=EntryKind.GRANT,
        reference=idempotency_key,
        key=grant_key(user_id, idempotency_key),
        reason=reason,
        expires_at=None if expires_at is None else _in_utc(expires_at),
    )


def wallet_change(posting: Posting, outcome: Outcome) -> WalletChange:
    """The answer to a committed posting: its entry, or its original's; a refusal raised."""
    if isinstance(outcome, LedgerEntry):
        return WalletChange(entry=outcome, balance=outcome.balance_after, replayed=False)
    if isinstance(outcome, Replayed):
        return WalletChange(outcome.original, outcome.original.balance_after, replayed=True)
    if isinstance(outcome, Conflicting):
        raise _conflict(outcome.original, posting)
    raise refusal_error(posting, outcome)


def _conflict(original: LedgerEntry, posting: Posting) -> Conflict:
    """A different request under the same key is refused, never silently merged."""
    expires = original.expires_at
    expiry = "" if expires is None else f", expiring {expires.isoformat()}"
    return Conflict(
        f"idempotency key {posting.reference!r} was used for a different request "
        f"({abs(original.delta)} credits, reason {original.reason!r}{expiry})"
    )


def _in_utc(expires_at: datetime) -> datetime:
    """Stored in UTC; 9999-12-31T23:59-01:00 has no UTC time a datetime can hold."""
    if expires_at.tzinfo is None:
        raise InvalidRequest("expires_at needs a timezone (e.g. 2027-01-31T00:00:00Z)")
    try:
        return expires_at.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidRequest("expires_at is beyond the year 9999 in UTC") from exc


def validate_change(credits: int, idempotency_key: str, reason: str) -> None:
    # A single change beyond MAX_CREDITS is a typo, and a few of them would overflow the
    # 64-bit balance (a 500 where the client needs a 422).
    if type(credits) is not int or not 0 < credits <= MAX_CREDITS:
        raise InvalidRequest(f"credits must be a positive whole number, at most {MAX_CREDITS}")
    if not idempotency_key.strip() or len(idempotency_key) > MAX_KEY_LENGTH:
        raise InvalidRequest(f"idempotency_key must be 1 to {MAX_KEY_LENGTH} characters")
    if not reason.strip() or len(reason) > MAX_REASON_LENGTH:
        raise InvalidRequest(f"reason must be 1 to {MAX_REASON_LENGTH} characters")
