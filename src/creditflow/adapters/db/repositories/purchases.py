"""Purchases: one row per payment, locked while an event about it is applied."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import Connection, Select, bindparam, or_, select, update

from creditflow.adapters.db.pipeline import Statement
from creditflow.adapters.db.repositories._sql import (
    insert_if_absent,
    inserting_if_absent,
    inserting_row_if_absent,
    set_by_key,
)
from creditflow.adapters.db.repositories.rows import purchase_from
from creditflow.adapters.db.tables import purchases, refunds
from creditflow.domain.money_back import RecordedRefund
from creditflow.domain.purchase_record import NewPurchase, Purchase, PurchaseChange
from creditflow.domain.statuses import PurchaseStatus, RefundStatus


class PurchaseRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add_if_absent(self, new: NewPurchase, now: datetime) -> Purchase | None:
        """Insert a purchase unless one has its checkout session or PaymentIntent already; the
        new purchase (this transaction's own until commit: no lock needed), or None.

        No conflict target: either unique key counts. On PostgreSQL a concurrent insert of the
        same payment (the session's event and its PaymentIntent's) waits, then does nothing.
        """
        statement = inserting_row_if_absent(self._connection.dialect.name, purchases, None)
        row = self._connection.execute(statement, _values(new, now)).one_or_none()
        return None if row is None else purchase_from(row._mapping)

    def insertion(self, new: NewPurchase, now: datetime) -> Statement:
        """`add_if_absent`'s insert, for a load that sends it with `locking` (which returns
        the row, inserted or not): it returns only the new id, so the row is not read twice."""
        return inserting_if_absent(self._connection.dialect.name, purchases, None), _values(
            new, now
        )

    @staticmethod
    def locking(checkout_session_id: str | None, payment_intent_id: str | None) -> Statement:
        """`lock`'s statement, for a load that sends it with others (an id that is None
        matches nothing)."""
        return _LOCK_NAMING, {"session": checkout_session_id, "intent": payment_intent_id}

    def get(self, purchase_id: int) -> Purchase:
        row = self._connection.execute(select(purchases).where(purchases.c.id == purchase_id)).one()
        return purchase_from(row._mapping)

    def lock_by_id(self, purchase_id: int) -> Purchase:
        row = self._connection.execute(
            select(purchases).where(purchases.c.id == purchase_id).with_for_update()
        ).one()
        return purchase_from(row._mapping)

    def lock(self, checkout_session_id: str | None, payment_intent_id: str | None) -> Purchase:
        """The purchase with either id, locked; the oldest if two rows name the payment."""
        row = self._connection.execute(
            _naming(checkout_session_id, payment_intent_id).with_for_update()
        ).first()
        if row is None:  # pragma: no cover - callers insert first
            raise LookupError(f"no purchase for {checkout_session_id} / {payment_intent_id}")
        return purchase_from(row._mapping)

    def lock_invoice(self, invoice_id: str) -> Purchase | None:
        """The purchase of a subscription invoice, locked, if there is one."""
        row = self._connection.execute(
            select(purchases).where(purchases.c.invoice_id == invoice_id).with_for_update()
        ).first()
        return None if row is None else purchase_from(row._mapping)

    def find(
        self, checkout_session_id: str | None, payment_intent_id: str | None
    ) -> Purchase | None:
        """Like `lock`, for reading: the purchase with either id, if there is one."""
        row = self._connection.execute(_naming(checkout_session_id, payment_intent_id)).first()
        return None if row is None else purchase_from(row._mapping)

    def apply(self, purchase_id: int, change: PurchaseChange, now: datetime) -> None:
        """Write the fields `change` sets, and `updated_at`."""
        values = {
            _COLUMNS.get(name, name): _stored(value) for name, value in change.written().items()
        }
        set_by_key(self._connection, purchases, purchase_id, {"updated_at": now, **values})

    def refunds(self, purchase_id: int, refund_id: str | None) -> list[RecordedRefund]:
        """The refunds recorded for the purchase, and the one named `refund_id` wherever it is
        recorded: what a refund event is decided on, in one statement."""
        match = refunds.c.purchase_id == purchase_id
        if refund_id is not None:
            match = or_(match, refunds.c.id == refund_id)
        rows = self._connection.execute(select(refunds).where(match).order_by(refunds.c.id))
        return [
            RecordedRefund(
                id=m["id"],
                purchase_id=m["purchase_id"],
                amount=m["amount"],
                status=RefundStatus(m["status"]),
                canceled_at=m["canceled_at"],
            )
            for m in (row._mapping for row in rows)
        ]

    def record_refund(self, refund: RecordedRefund, now: datetime) -> None:
        values = {
            "purchase_id": refund.purchase_id,
            "amount": refund.amount,
            "status": refund.status.value,
            "updated_at": now,
            "canceled_at": refund.canceled_at,
        }
        if insert_if_absent(self._connection, refunds, {"id": refund.id, **values}, ["id"]):
            return
        self._connection.execute(update(refunds).where(refunds.c.id == refund.id).values(values))

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
        return [purchase_from(row._mapping) for row in self._connection.execute(query)]


# `Purchase` names the normalized e-mail `email`; the column is `email_key`.
_COLUMNS = {"email": "email_key"}


def _stored(value: object) -> object:
    """Statuses are stored as their values."""
    return value.value if isinstance(value, Enum) else value


def _values(new: NewPurchase, now: datetime) -> dict[str, Any]:
    """A new purchase's row."""
    return {
        "checkout_session_id": new.checkout_session_id,
        "payment_intent_id": new.payment_intent_id,
        "payment_state": new.payment_state.value,
        "status": new.status.value,
        "user_id": new.user_id,
        "email_key": new.email,
        "amount": new.amount,
        "currency": new.currency,
        "credits": new.credits,
        "payment_link": new.payment_link,
        "amount_refunded": 0,
        "credits_refunded": 0,
        "credits_held": 0,
        "credits_written_off": 0,
        "livemode": new.livemode,
        "created_at": now,
        "updated_at": now,
        "credited_at": new.credited_at,
        "invoice_id": new.invoice_id,
        "credits_expire_at": new.credits_expire_at,
        "subscription_id": new.subscription_id,
    }


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


_LOCK_NAMING = (
    select(purchases)
    .where(
        or_(
            purchases.c.checkout_session_id == bindparam("session"),
            purchases.c.payment_intent_id == bindparam("intent"),
        )
    )
    .order_by(purchases.c.id)
    .limit(1)
    .with_for_update()
)


def change_values(change: PurchaseChange, now: datetime) -> dict[str, Any]:
    """The columns `apply` writes for `change`, for a store that sends it with others."""
    values = {_COLUMNS.get(name, name): _stored(value) for name, value in change.written().items()}
    return {"updated_at": now, **values}


def new_values(new: NewPurchase, now: datetime) -> dict[str, Any]:
    """A new purchase's row, for a batch's insert (purchase_batches.py)."""
    return _values(new, now)
