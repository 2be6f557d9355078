"""Holds: reserve credits before the work, capture what it cost, release the rest.

Each use case is one transaction that locks the wallet first (its load sums the live holds
under that lock), then the hold: opens queue up behind postings to the same wallet, and a
capture and a void of one hold queue up behind each other, so exactly one of them wins. The
decisions are domain/holds.py's; a capture's spend goes through the wallet's `decide`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from creditflow.domain.holds import (
    Hold,
    HoldReplayed,
    HoldStatus,
    HoldTotals,
    capture,
    expiry_after,
    open_hold,
    status_at,
    void,
)
from creditflow.domain.keys import hold_capture_key, hold_key
from creditflow.domain.users import Wallet
from creditflow.domain.wallet import Posted, Refused, WalletState, decide
from creditflow.errors import Conflict, InsufficientCredits, NotFound
from creditflow.services.clock import Clock
from creditflow.services.unit_of_work import UnitOfWork, UnitOfWorkFactory
from creditflow.services.wallet_operations import validate_change

LIST_LIMIT = 500


@dataclass(frozen=True)
class HoldResult:
    """A hold as the request left it, with its wallet's figures then."""

    hold: Hold
    status: HoldStatus  # as a reader sees it now (holds.status_at)
    balance: int
    available: int
    replayed: bool = False


class HoldService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    def open(
        self,
        user_id: str,
        credits: int,
        idempotency_key: str,
        reason: str,
        expires_in_seconds: int | None = None,
    ) -> HoldResult:
        """Reserve `credits` of `available` (402 otherwise); the same key again: the first."""
        validate_change(credits, idempotency_key, reason)
        now = self._clock()
        expires_at = expiry_after(expires_in_seconds, now)
        key = hold_key(user_id, idempotency_key)
        with self._uow() as uow:
            state = uow.wallets.load(user_id, now=now)
            existing = uow.holds.by_key(key)
            if existing is not None:
                if existing.credits != credits:
                    raise Conflict(
                        f"idempotency key {idempotency_key!r} was used for a hold of "
                        f"{existing.credits} credits ({existing.id})"
                    )
                return self._result(existing, state, replayed=True)
            opened = open_hold(
                state,
                hold_id=f"hold_{secrets.token_hex(12)}",
                key=key,
                credits=credits,
                reason=reason,
                expires_at=expires_at,
                now=now,
            )
            if isinstance(opened, Refused):
                raise InsufficientCredits(
                    f"{user_id} has {opened.available} credits available, {credits} needed",
                    balance=opened.balance,
                    available=opened.available,
                )
            uow.holds.add(opened)
            uow.commit()
        return self._result(opened, replace(state, held=state.held + credits))

    def capture(self, hold_id: str, credits: int | None = None) -> HoldResult:
        """Spend `credits` of the hold (all if None) and release the rest."""
        now = self._clock()
        with self._uow() as uow:
            hold, state = self._lock(uow, hold_id, hold_capture_key(hold_id))
            done = capture(hold, state, credits, now)
            if isinstance(done, HoldReplayed):
                return self._result(done.hold, state, replayed=True)
            after = replace(state, held=state.held - hold.credits)
            if done.posting is not None:
                decision = decide(state, done.posting, now)
                if not isinstance(decision, Posted):  # a capture is decided never to be refused
                    raise AssertionError(f"capture of {hold_id} decided {decision}")
                uow.wallets.store(decision)
                after = decision.state
            uow.holds.close(done.hold, now)
            uow.commit()
        return self._result(done.hold, after)

    def void(self, hold_id: str) -> HoldResult:
        """Release the whole hold; voiding it again answers the same."""
        now = self._clock()
        with self._uow() as uow:
            hold, state = self._lock(uow, hold_id)
            voided = void(hold, now)
            if isinstance(voided, HoldReplayed):
                return self._result(voided.hold, state, replayed=True)
            uow.holds.close(voided, now)
            uow.commit()
        return self._result(voided, replace(state, held=state.held - hold.credits))

    def get(self, hold_id: str) -> HoldResult:
        with self._uow() as uow:
            hold = uow.holds.get(hold_id)
            if hold is None:
                raise NotFound(f"no hold {hold_id}")
            balance, held = self._figures(uow, hold.user_id)
        return HoldResult(hold, status_at(hold, self._clock()), balance, balance - held)

    def totals(self) -> HoldTotals:
        """For the metrics, read at each scrape (raises `DatabaseUnavailable`)."""
        with self._uow() as uow:
            return uow.holds.totals(self._clock())

    def status_now(self, hold: Hold) -> HoldStatus:
        return status_at(hold, self._clock())

    def wallet(self, user_id: str) -> tuple[Wallet, int]:
        """The wallet and what its live holds reserve, read together without its lock."""
        with self._uow() as uow:
            wallet = uow.wallets.get(user_id)
            if wallet is None:
                raise NotFound(f"no user {user_id}")
            return wallet, uow.holds.live_total(user_id, self._clock())

    def _figures(self, uow: UnitOfWork, user_id: str) -> tuple[int, int]:
        wallet = uow.wallets.get(user_id)
        assert wallet is not None, "a hold's wallet is never deleted"
        return wallet.balance, uow.holds.live_total(user_id, self._clock())

    def of_wallet(self, user_id: str, status: HoldStatus | None) -> list[Hold]:
        """The wallet's holds newest first, the last LIST_LIMIT of them."""
        now = self._clock()
        with self._uow() as uow:
            if uow.wallets.get(user_id) is None:
                raise NotFound(f"no user {user_id}")
            return uow.holds.of_wallet(user_id, status, now, LIST_LIMIT)

    def _lock(
        self, uow: UnitOfWork, hold_id: str, key: str | None = None
    ) -> tuple[Hold, WalletState]:
        """The wallet locked, then the hold: the lock order of every hold use case."""
        found = uow.holds.get(hold_id)
        if found is None:
            raise NotFound(f"no hold {hold_id}")
        state = uow.wallets.load(found.user_id, key, now=self._clock())
        hold = uow.holds.lock(hold_id)
        assert hold is not None, "holds are never deleted"
        return hold, state

    def _result(self, hold: Hold, state: WalletState, replayed: bool = False) -> HoldResult:
        return HoldResult(
            hold, status_at(hold, self._clock()), state.balance, state.available, replayed
        )
