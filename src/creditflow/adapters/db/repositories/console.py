"""What the operator console reads beyond the API's views, a page at a time, and its replay notes.

Every list is keyset-paged on an index (webhook_events(received_at, id, status) and (type,
received_at, id), purchases(status, id), the unclaimed pending grants' id, holds(created_at, id)
and (status, created_at, id)): a page costs the same at 10^4 events as at 10, and an OFFSET is
never used. A held hold past its expiry reads as expired, as domain/holds.status_at says.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    func,
    insert,
    select,
    true,
    tuple_,
    union_all,
)

from creditflow.adapters.db.repositories.holds import hold_from
from creditflow.adapters.db.repositories.rows import (
    delivery_from,
    pending_grant_from,
    purchase_from,
)
from creditflow.adapters.db.repositories.wallets import lot_from
from creditflow.adapters.db.tables import (
    credit_lots,
    event_replays,
    holds,
    pending_grants,
    purchases,
    refunds,
    webhook_events,
)
from creditflow.domain.deliveries import StoredDelivery
from creditflow.domain.holds import Hold, HoldStatus
from creditflow.domain.operator_views import (
    HoldCursor,
    InboxCursor,
    InboxFilter,
    Refund,
    ReplayNote,
)
from creditflow.domain.pending import PendingGrant
from creditflow.domain.purchase_record import Purchase
from creditflow.domain.statuses import DeliveryStatus, PurchaseStatus
from creditflow.domain.wallet import Lot


class ConsoleRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def inbox_page(
        self, where: InboxFilter, after: InboxCursor | None, limit: int
    ) -> list[StoredDelivery]:
        """Newest first; the order is the index's, read backwards, so nothing is sorted."""
        events = webhook_events.c
        query = select(webhook_events).order_by(events.received_at.desc(), events.id.desc())
        if where.status is not None:
            query = query.where(events.status == where.status.value)
        if where.type is not None:
            query = query.where(events.type == where.type)
        if where.received_from is not None:
            query = query.where(events.received_at >= where.received_from)
        if where.received_before is not None:
            query = query.where(events.received_at < where.received_before)
        if after is not None:
            query = query.where(
                tuple_(events.received_at, events.id) < tuple_(after.received_at, after.event_id)
            )
        return [delivery_from(row._mapping) for row in self._connection.execute(query.limit(limit))]

    def open_lots(self, user_id: str, limit: int) -> list[Lot]:
        """The first to expire first (never-expiring last): the ones support asks about."""
        lots = credit_lots.c
        query = (
            select(credit_lots)
            .where(lots.user_id == user_id, lots.remaining > 0)
            .order_by(lots.expires_at.is_(None), lots.expires_at, lots.id)
            .limit(limit)
        )
        return [lot_from(row._mapping) for row in self._connection.execute(query)]

    def outcomes_since(self, since: datetime) -> dict[DeliveryStatus, int]:
        """Deliveries received from `since` on, counted by their recorded outcome."""
        status = webhook_events.c.status
        rows = self._connection.execute(
            select(status, func.count())
            .where(webhook_events.c.received_at >= since)
            .group_by(status)
        )
        return {DeliveryStatus(name): int(count) for name, count in rows}

    def purchases_page(
        self,
        *,
        status: PurchaseStatus | None,
        user_id: str | None,
        before_id: int | None,
        limit: int,
    ) -> list[Purchase]:
        query = select(purchases).order_by(purchases.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(purchases.c.status == status.value)
        if user_id is not None:
            query = query.where(purchases.c.user_id == user_id)
        if before_id is not None:
            query = query.where(purchases.c.id < before_id)
        return [purchase_from(row._mapping) for row in self._connection.execute(query)]

    def refunds_of(self, purchase_ids: Sequence[int]) -> list[Refund]:
        if not purchase_ids:
            return []
        query = (
            select(refunds.c.id, refunds.c.purchase_id, refunds.c.amount, refunds.c.status)
            .add_columns(refunds.c.updated_at)
            .where(refunds.c.purchase_id.in_(purchase_ids))
            .order_by(refunds.c.updated_at)
        )
        return [Refund(**row._mapping) for row in self._connection.execute(query)]

    def unclaimed_page(self, *, after_id: int | None, limit: int) -> list[PendingGrant]:
        """Oldest first: the grant waiting longest is the one to chase."""
        query = (
            select(pending_grants)
            .where(pending_grants.c.claimed_at.is_(None))
            .order_by(pending_grants.c.id)
            .limit(limit)
        )
        if after_id is not None:
            query = query.where(pending_grants.c.id > after_id)
        return [pending_grant_from(row._mapping) for row in self._connection.execute(query)]

    def holds_page(
        self,
        *,
        status: HoldStatus | None,
        user_id: str | None,
        after: HoldCursor | None,
        now: datetime,
        limit: int,
    ) -> list[Hold]:
        """Newest first, as seen at `now`: `held` lists the live ones, `expired` those marked
        so and those past their expiry not swept yet.

        Each status reads one range of holds(status, created_at, id), the whole list one of
        (created_at, id), a wallet's its (user_id, created_at): `expired` is two ranges, each
        read newest first and merged, since an OR of them would read the whole table.
        """
        h = holds.c
        held = h.status == HoldStatus.HELD.value
        ranges: list[ColumnElement[bool]]
        if status is HoldStatus.HELD:
            ranges = [held & (h.expires_at > now)]
        elif status is HoldStatus.EXPIRED:
            ranges = [h.status == status.value, held & (h.expires_at <= now)]
        elif status is not None:
            ranges = [h.status == status.value]
        else:
            ranges = [true()]
        if user_id is not None:
            ranges = [where & (h.user_id == user_id) for where in ranges]
        if after is not None:
            older = tuple_(h.created_at, h.id) < tuple_(after.created_at, after.hold_id)
            ranges = [where & older for where in ranges]
        parts = [_newest(select(holds).where(where), holds, limit) for where in ranges]
        if len(parts) == 1:
            query = parts[0]
        else:
            merged = union_all(*(select(part.subquery()) for part in parts)).subquery()
            query = _newest(select(merged), merged, limit)
        return [hold_from(row._mapping) for row in self._connection.execute(query)]

    def live_holds(self, user_id: str, now: datetime, limit: int) -> list[Hold]:
        """The wallet's live holds, the first to expire first (the partial index of live ones)."""
        h = holds.c
        query = (
            select(holds)
            .where(h.user_id == user_id, h.status == HoldStatus.HELD.value, h.expires_at > now)
            .order_by(h.expires_at, h.id)
            .limit(limit)
        )
        return [hold_from(row._mapping) for row in self._connection.execute(query)]

    def live_holds_count(self, now: datetime) -> int:
        h = holds.c
        query = select(func.count()).where(h.status == HoldStatus.HELD.value, h.expires_at > now)
        return int(self._connection.execute(query).scalar_one())

    def invoice_purchases(self, user_id: str, limit: int) -> list[Purchase]:
        """The wallet's subscription grants (a purchase per paid invoice), newest first."""
        query = (
            select(purchases)
            .where(purchases.c.user_id == user_id, purchases.c.invoice_id.is_not(None))
            .order_by(purchases.c.id.desc())
            .limit(limit)
        )
        return [purchase_from(row._mapping) for row in self._connection.execute(query)]

    def add_replay_note(self, event_id: str, note: ReplayNote) -> None:
        self._connection.execute(
            insert(event_replays).values(
                event_id=event_id,
                operator=note.operator,
                reason=note.reason,
                outcome=note.outcome.value,
                error=note.error,
                replayed_at=note.replayed_at,
            )
        )

    def replay_notes(self, event_id: str) -> list[ReplayNote]:
        """Newest first (the (event_id, id) index)."""
        query = (
            select(event_replays)
            .where(event_replays.c.event_id == event_id)
            .order_by(event_replays.c.id.desc())
        )
        return [
            ReplayNote(
                row.operator, row.reason, DeliveryStatus(row.outcome), row.error, row.replayed_at
            )
            for row in self._connection.execute(query)
        ]


def _newest(query: Select[Any], source: FromClause, limit: int) -> Select[Any]:
    return query.order_by(source.c.created_at.desc(), source.c.id.desc()).limit(limit)
