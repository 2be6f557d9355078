"""Read-only views for the API and the CLI; each reads in one short transaction."""

from __future__ import annotations

from dataclasses import dataclass

from creditflow.domain.deliveries import StoredDelivery
from creditflow.domain.pending import PendingGrant
from creditflow.domain.purchase_record import Purchase
from creditflow.domain.statuses import DeliveryStatus, PurchaseStatus
from creditflow.domain.subscriptions import SubscriptionView
from creditflow.domain.users import User, Wallet
from creditflow.domain.wallet import LedgerEntry
from creditflow.errors import InvalidRequest, NotFound
from creditflow.services.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class Backlog:
    """What waits for someone, across every server process: for gauges and alerts."""

    pending_grants: int
    pending_credits: int
    needs_attention: int
    failed: int


class Queries:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    def user(self, user_id: str) -> tuple[User, Wallet]:
        with self._uow() as uow:
            user = uow.users.get(user_id)
            wallet = uow.wallets.get(user_id)
        if user is None or wallet is None:
            raise NotFound(f"no user {user_id}")
        return user, wallet

    def wallet(self, user_id: str) -> Wallet:
        return self.user(user_id)[1]

    def ledger(self, user_id: str, *, limit: int, before_id: int | None) -> list[LedgerEntry]:
        with self._uow() as uow:
            if uow.wallets.get(user_id) is None:
                raise NotFound(f"no user {user_id}")
            return uow.wallets.entries(user_id, limit=limit, before_id=before_id)

    def purchases(
        self,
        *,
        user_id: str | None,
        status: PurchaseStatus | None,
        limit: int,
        before_id: int | None = None,
    ) -> list[Purchase]:
        with self._uow() as uow:
            return uow.purchases.list(
                user_id=user_id, status=status, limit=limit, before_id=before_id
            )

    def subscriptions(self, *, user_id: str | None, limit: int) -> list[SubscriptionView]:
        """A user's subscriptions (everyone's when None), newest first, with their grants."""
        with self._uow() as uow:
            found = uow.subscriptions.listed(user_id, limit)
            grants = uow.subscriptions.grants([sub.subscription_id for sub in found])
        return [SubscriptionView(sub, tuple(grants[sub.subscription_id])) for sub in found]

    def pending_grants(self, *, limit: int, before_id: int | None = None) -> list[PendingGrant]:
        with self._uow() as uow:
            return uow.pending.list_unclaimed(limit, before_id)

    def events(
        self, *, status: DeliveryStatus | None, limit: int, before: str | None = None
    ) -> list[StoredDelivery]:
        """Newest first; `before` is the id of the last event of the previous page."""
        with self._uow() as uow:
            if before is None:
                return uow.inbox.list(status, limit)
            cursor = uow.inbox.get(before)
            if cursor is None:
                raise InvalidRequest(f"no stored delivery {before} to page on from")
            return uow.inbox.list(status, limit, after=(cursor.received_at, cursor.id))

    def event(self, event_id: str) -> StoredDelivery:
        with self._uow() as uow:
            stored = uow.inbox.get(event_id)
        if stored is None:
            raise NotFound(f"no stored delivery {event_id}")
        return stored

    def backlog(self) -> Backlog:
        with self._uow() as uow:
            pending_grants, pending_credits = uow.pending.unclaimed_totals()
            needs_attention = uow.inbox.count(DeliveryStatus.NEEDS_ATTENTION)
            failed = uow.inbox.count(DeliveryStatus.FAILED)
        return Backlog(pending_grants, pending_credits, needs_attention, failed)
