"""Pending grants: credits paid for by a buyer not registered yet."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, func, or_, select, update

from creditflow.adapters.db.repositories.rows import pending_grant_from
from creditflow.adapters.db.tables import pending_grants
from creditflow.domain.pending import PendingGrant


class PendingGrantRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(
        self,
        *,
        purchase_id: int,
        user_id: str | None,
        email_key: str | None,
        credits: int,
        now: datetime,
    ) -> int:
        return int(
            self._connection.execute(
                pending_grants.insert()
                .values(
                    purchase_id=purchase_id,
                    user_id=user_id,
                    email_key=email_key,
                    credits=credits,
                    created_at=now,
                )
                .returning(pending_grants.c.id)
            ).scalar_one()
        )

    def claimable(self, user_id: str, email_key: str | None) -> list[PendingGrant]:
        """Unclaimed grants parked under this user id, or under this e-mail with no user id.

        Not locked here: the caller locks each grant's purchase first, then the grant, the same
        order a refund of that purchase takes, so the two can never deadlock.
        """
        match = pending_grants.c.user_id == user_id
        if email_key is not None:
            match = or_(
                match,
                and_(pending_grants.c.user_id.is_(None), pending_grants.c.email_key == email_key),
            )
        query = (
            select(pending_grants)
            .where(pending_grants.c.claimed_at.is_(None), match)
            .order_by(pending_grants.c.id)
        )
        return [pending_grant_from(row._mapping) for row in self._connection.execute(query)]

    def lock_unclaimed(self, grant_id: int) -> PendingGrant | None:
        row = self._connection.execute(
            select(pending_grants)
            .where(pending_grants.c.id == grant_id, pending_grants.c.claimed_at.is_(None))
            .with_for_update()
        ).one_or_none()
        return None if row is None else pending_grant_from(row._mapping)

    def mark_claimed(self, grant_id: int, user_id: str, now: datetime) -> None:
        self._connection.execute(
            update(pending_grants)
            .where(pending_grants.c.id == grant_id)
            .values(claimed_at=now, claimed_by=user_id)
        )

    def set_credits(self, purchase_id: int, credits: int) -> None:
        """What an unclaimed grant is worth after refunds and disputes of its purchase."""
        self._connection.execute(
            update(pending_grants)
            .where(
                pending_grants.c.purchase_id == purchase_id, pending_grants.c.claimed_at.is_(None)
            )
            .values(credits=credits)
        )

    def unclaimed_totals(self) -> tuple[int, int]:
        """How many grants wait for their buyer, and how many credits they hold together."""
        count, credits = self._connection.execute(
            select(func.count(), func.coalesce(func.sum(pending_grants.c.credits), 0)).where(
                pending_grants.c.claimed_at.is_(None)
            )
        ).one()
        return int(count), int(credits)

    def list_unclaimed(self, limit: int, before_id: int | None = None) -> list[PendingGrant]:
        """Newest first; keyset pages (`before_id`) down the partial index of unclaimed ids."""
        query = (
            select(pending_grants)
            .where(pending_grants.c.claimed_at.is_(None))
            .order_by(pending_grants.c.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            query = query.where(pending_grants.c.id < before_id)
        return [pending_grant_from(row._mapping) for row in self._connection.execute(query)]
