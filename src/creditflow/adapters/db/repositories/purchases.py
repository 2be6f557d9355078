"""Purchases: one row per payment, locked while an event about it is applied."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, func, or_, select, update

from creditflow.adapters.db.repositories._sql import (
    insert_if_absent,
    insert_row_if_absent,
    update_by_key,
)
from creditflow.adapters.db.tables import purchases, refunds
from creditflow.domain.purchases import Purchase
from creditflow.domain.statuses import DisputeStatus, PaymentState, PurchaseStatus, RefundStatus


class PurchaseRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add_if_absent(self, values: Mapping[str, Any]) -> Purchase | None:
        """Insert a purchase unless one has its checkout session or PaymentIntent already; the
        new purchase (this transaction's own until commit: no lock needed), or None.

        No conflict target: either unique key counts. On PostgreSQL a concurrent insert of the
        same payment (the session's event and its PaymentIntent's) waits, then does nothing.
        """
        row = insert_row_if_absent(self._connection, purchases, values, None)
        return None if row is None else _purchase(row)

    def get(self, purchase_id: int) -> Purchase:
        row = self._connection.execute(select(purchases).where(purchases.c.id == purchase_id)).one()
        return _purchase(row)

    def lock_by_id(self, purchase_id: int) -> Purchase:
        row = self._connection.execute(
            select(purchases).where(purchases.c.id == purchase_id).with_for_update()
        ).one()
        return _purchase(row)

    def lock(self, checkout_session_id: str | None, payment_intent_id: str | None) -> Purchase:
        """The purchase with either id, locked; the oldest if two rows name the payment."""
        row = self._connection.execute(
            _naming(checkout_session_id, payment_intent_id).with_for_update()
        ).first()
        if row is None:  # pragma: no cover - callers insert first
            raise LookupError(f"no purchase for {checkout_session_id} / {payment_intent_id}")
        return _purchase(row)

    def find(
        self, checkout_session_id: str | None, payment_intent_id: str | None
    ) -> Purchase | None:
        """Like `lock`, for reading: the purchase with either id, if there is one."""
        row = self._connection.execute(_naming(checkout_session_id, payment_intent_id)).first()
        return None if row is None else _purchase(row)

    def update(self, purchase_id: int, now: datetime, **values: Any) -> Purchase:
        """Write `values`; the purchase as it now stands (read back by the same statement)."""
        row = update_by_key(self._connection, purchases, purchase_id, {"updated_at": now, **values})
        assert row is not None, f"no purchase {purchase_id}"
        return _purchase(row)

    def record_refund(
        self,
        refund_id: str,
        purchase_id: int,
        amount: int,
        status: RefundStatus,
        now: datetime,
        canceled_at: datetime | None = None,
    ) -> None:
        values = {
            "purchase_id": purchase_id,
            "amount": amount,
            "status": status.value,
            "updated_at": now,
            "canceled_at": canceled_at,
        }
        if insert_if_absent(self._connection, refunds, {"id": refund_id, **values}, ["id"]):
            return
        self._connection.execute(update(refunds).where(refunds.c.id == refund_id).values(values))

    def refund_status(self, refund_id: str) -> RefundStatus | None:
        status = self._connection.execute(
            select(refunds.c.status).where(refunds.c.id == refund_id)
        ).scalar_one_or_none()
        return None if status is None else RefundStatus(status)

    def refunds_total(
        self, purchase_id: int, status: RefundStatus, *, canceled_from: datetime | None = None
    ) -> int:
        """The amount of the purchase's recorded refunds in `status`; with `canceled_from`, only
        those canceled at or after it (Stripe's times are whole seconds) or at an unknown time:
        the canceled refunds a charge total made at `canceled_from` may still count."""
        query = select(func.coalesce(func.sum(refunds.c.amount), 0)).where(
            refunds.c.purchase_id == purchase_id, refunds.c.status == status.value
        )
        if canceled_from is not None:
            canceled_at = refunds.c.canceled_at
            query = query.where(or_(canceled_at.is_(None), canceled_at >= canceled_from))
        return int(self._connection.execute(query).scalar_one())

    def list(
        self,
        *,
        user_id: str | None,
        status: PurchaseStatus | None,
        limit: int,
        before_id: int | None = None,
    ) -> list[Purchase]:
        """Newest first; keyset pages (`before_id`) within one (user_id, id) or (status, id)
        index range, or down the primary key."""
        query = select(purchases).order_by(purchases.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(purchases.c.id < before_id)
        if user_id is not None:
            query = query.where(purchases.c.user_id == user_id)
        if status is not None:
            query = query.where(purchases.c.status == status.value)
        return [_purchase(row) for row in self._connection.execute(query)]


def _naming(checkout_session_id: str | None, payment_intent_id: str | None) -> Select[Any]:
    match = [
        column == value
        for column, value in (
            (purchases.c.checkout_session_id, checkout_session_id),
            (purchases.c.payment_intent_id, payment_intent_id),
        )
        if value is not None
    ]
    return select(purchases).where(or_(*match)).order_by(purchases.c.id)


def _purchase(row: Row[tuple[object, ...]]) -> Purchase:
    m = row._mapping
    dispute = m["dispute_status"]
    return Purchase(
        id=m["id"],
        checkout_session_id=m["checkout_session_id"],
        payment_intent_id=m["payment_intent_id"],
        payment_state=PaymentState(m["payment_state"]),
        status=PurchaseStatus(m["status"]),
        user_id=m["user_id"],
        email=m["email_key"],
        amount=m["amount"],
        currency=m["currency"],
        credits=m["credits"],
        payment_link=m["payment_link"],
        amount_refunded=m["amount_refunded"],
        dispute_status=None if dispute is None else DisputeStatus(dispute),
        credits_refunded=m["credits_refunded"],
        credits_held=m["credits_held"],
        credits_written_off=m["credits_written_off"],
        livemode=m["livemode"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        credited_at=m["credited_at"],
    )
