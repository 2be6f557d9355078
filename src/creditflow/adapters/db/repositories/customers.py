"""Stripe customers and the app's user each was linked to by a subscription's Checkout Session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from creditflow.adapters.db.repositories._sql import insert_if_absent
from creditflow.adapters.db.tables import stripe_customers


class CustomerRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def user_for(self, customer_id: str) -> str | None:
        return self._connection.execute(
            select(stripe_customers.c.user_id).where(stripe_customers.c.customer_id == customer_id)
        ).scalar_one_or_none()

    def link(self, customer_id: str, user_id: str, now: datetime) -> bool:
        """Store (or move) the link; False when it already named this user."""
        values = {"user_id": user_id, "updated_at": now}
        row = {"customer_id": customer_id, "created_at": now, **values}
        if insert_if_absent(self._connection, stripe_customers, row, ["customer_id"]):
            return True
        moved = self._connection.execute(
            update(stripe_customers)
            .where(stripe_customers.c.customer_id == customer_id)
            .where(stripe_customers.c.user_id != user_id)
            .values(values)
        )
        return moved.rowcount > 0
