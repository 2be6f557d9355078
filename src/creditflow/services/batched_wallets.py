"""Spends and grants through group commit (services/group_commit.py), for an async edge.

The same requests and answers as `WalletOperations`: the same postings, validated the same way,
and the same answer from the outcome, which arrives once the posting's batch has committed. Only
the transaction differs: shared with the postings that arrived alongside.
"""

from __future__ import annotations

from datetime import datetime

from creditflow.errors import InsufficientCredits
from creditflow.services.group_commit import PostingBatcher
from creditflow.services.observer import NO_OBSERVER, Observer
from creditflow.services.wallet_operations import (
    WalletChange,
    grant_posting,
    spend_posting,
    wallet_change,
)


class BatchedWalletOperations:
    def __init__(self, batcher: PostingBatcher, observer: Observer = NO_OBSERVER) -> None:
        self._batcher = batcher
        self._observer = observer

    async def spend(
        self, user_id: str, credits: int, idempotency_key: str, reason: str
    ) -> WalletChange:
        """Take credits, never below zero (402 with the balance otherwise)."""
        posting = spend_posting(user_id, credits, idempotency_key, reason)
        try:
            return wallet_change(posting, await self._batcher.submit(posting))
        except InsufficientCredits as exc:
            self._observer.spend_refused(exc.code)
            raise

    async def grant(
        self,
        user_id: str,
        credits: int,
        idempotency_key: str,
        reason: str,
        expires_at: datetime | None,
    ) -> WalletChange:
        """Promotional or manual credits, in a lot of their own (spent before paid credits)."""
        posting = grant_posting(user_id, credits, idempotency_key, reason, expires_at)
        return wallet_change(posting, await self._batcher.submit(posting))

    async def close(self) -> None:
        await self._batcher.close()
