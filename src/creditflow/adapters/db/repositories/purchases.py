"""Purchases: one row per payment, locked while an event about it is applied."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from creditflow.adapters.db.repositories._sql import insert_if_absent
from creditflow.adapters.db.tables import purchases
from creditflow.domain.purchases import Purchase, PurchaseStatus


class PurchaseRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add_if_absent(self, values: Mapping[str, Any]) -> int | None:
        """Insert a new purchase keyed by its checkout session; None when it already exists."""
        new_id = insert_if_absent(self._connection, purchases, values, ["checkout_session_id"])
        return None if new_id is None else int(new_id)

    def get(self, purchase_id: int) -> Purchase:
        row = self._connection.execute(select(purchases).where(purchases.c.id == purchase_id)).one()
        return _purchase(row)

    def lock_by_checkout_session(self, session_id: str) -> Purchase | None:
        row = self._connection.execute(
            select(purchases).where(purchases.c.checkout_session_id == session_id).with_for_update()
        ).one_or_none()
        return None if row is None else _purchase(row)

    def update(self, purchase_id: int, now: datetime, **values: Any) -> None:
        self._connection.execute(
            update(purchases).where(purchases.c.id == purchase_id).values(updated_at=now, **values)
        )

    def list(
        self, *, user_id: str | None, status: PurchaseStatus | None, limit: int
    ) -> list[Purchase]:
        query = select(purchases).order_by(purchases.c.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(purchases.c.user_id == user_id)
        if status is not None:
            query = query.where(purchases.c.status == status.value)
        return [_purchase(row) for row in self._connection.execute(query)]


def _purchase(row: Row[tuple[object, ...]]) -> Purchase:
    m = row._mapping
    return Purchase(
        id=m["id"],
        checkout_session_id=m["checkout_session_id"],
        payment_intent_id=m["payment_intent_id"],
        status=PurchaseStatus(m["status"]),
        user_id=m["user_id"],
        email=m["email_key"],
        amount=m["amount"],
        currency=m["currency"],
        credits=m["credits"],
        payment_link=m["payment_link"],
        livemode=m["livemode"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        credited_at=m["credited_at"],
    )
