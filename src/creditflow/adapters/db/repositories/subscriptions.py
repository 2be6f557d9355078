"""Subscriptions as stored (migration 0011), and the grants made for them; no decisions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from creditflow.adapters.db.repositories._sql import insert_row_if_absent
from creditflow.adapters.db.tables import purchases, subscriptions
from creditflow.domain.subscriptions import Subscription, SubscriptionGrant

FIELDS = (
    "customer_id",
    "user_id",
    "status",
    "status_at",
    "current_period_start",
    "current_period_end",
    "credits_per_period",
    "ended_at",
)


class SubscriptionRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add_if_absent(self, sub: Subscription, now: datetime) -> Subscription | None:
        """Insert it unless stored already: the new row (this transaction's own), or None. On
        PostgreSQL a concurrent insert of the same subscription waits for the first to commit."""
        row = {
            "subscription_id": sub.subscription_id,
            "livemode": sub.livemode,
            "created_at": now,
            "updated_at": now,
            **_values(sub),
        }
        inserted = insert_row_if_absent(self._connection, subscriptions, row, ["subscription_id"])
        return None if inserted is None else _subscription(inserted._mapping)

    def lock(self, subscription_id: str) -> Subscription | None:
        row = self._connection.execute(
            select(subscriptions)
            .where(subscriptions.c.subscription_id == subscription_id)
            .with_for_update()
        ).first()
        return None if row is None else _subscription(row._mapping)

    def save(self, sub: Subscription, now: datetime) -> None:
        self._connection.execute(
            update(subscriptions)
            .where(subscriptions.c.subscription_id == sub.subscription_id)
            .values(updated_at=now, **_values(sub))
        )

    def listed(self, user_id: str | None, limit: int) -> list[Subscription]:
        """A user's subscriptions (everyone's when None), newest first."""
        query = select(subscriptions)
        if user_id is not None:
            query = query.where(subscriptions.c.user_id == user_id)
        order = (subscriptions.c.created_at.desc(), subscriptions.c.subscription_id.desc())
        rows = self._connection.execute(query.order_by(*order).limit(limit))
        return [_subscription(row._mapping) for row in rows]

    def grants(self, subscription_ids: Sequence[str]) -> dict[str, list[SubscriptionGrant]]:
        """The paid invoices' purchases of these subscriptions (those with credits: granted or
        waiting as a pending grant), newest first, by subscription."""
        found: dict[str, list[SubscriptionGrant]] = {sid: [] for sid in subscription_ids}
        if not subscription_ids:
            return found
        rows = self._connection.execute(
            select(purchases)
            .where(purchases.c.subscription_id.in_(subscription_ids))
            .where(purchases.c.invoice_id.is_not(None))
            .where(purchases.c.credits.is_not(None))
            .order_by(purchases.c.id.desc())
        )
        for row in rows:
            m = row._mapping
            found[m["subscription_id"]].append(
                SubscriptionGrant(
                    invoice_id=m["invoice_id"],
                    status=m["status"],
                    credits=m["credits"],
                    user_id=m["user_id"],
                    credited_at=m["credited_at"],
                    expires_at=m["credits_expire_at"],
                    created_at=m["created_at"],
                )
            )
        return found


def _values(sub: Subscription) -> dict[str, Any]:
    return {name: getattr(sub, name) for name in FIELDS}


def _subscription(m: Mapping[Any, Any]) -> Subscription:
    return Subscription(
        subscription_id=m["subscription_id"],
        livemode=m["livemode"],
        **{name: m[name] for name in FIELDS},
    )
