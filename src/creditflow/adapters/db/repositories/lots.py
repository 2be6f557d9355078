"""Credit lots: where a wallet's credits came from, how many are left, when they expire."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import Connection, Executable, Row, select, update

from creditflow.adapters.db.repositories._sql import upsert
from creditflow.adapters.db.tables import credit_lots
from creditflow.domain.kinds import LotSource
from creditflow.domain.wallet import Lot


class LotRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def open_lots(self, user_id: str) -> list[Lot]:
        query = select(credit_lots).where(
            credit_lots.c.user_id == user_id, credit_lots.c.remaining > 0
        )
        return [_lot(row) for row in self._connection.execute(query)]

    def add(
        self,
        *,
        user_id: str,
        source: LotSource,
        credits: int,
        reference: str,
        purchase_id: int | None,
        expires_at: datetime | None,
        now: datetime,
    ) -> None:
        """A new lot; credits given back to a purchase return to that purchase's own lot."""
        values = {
            "user_id": user_id,
            "source": source.value,
            "purchase_id": purchase_id,
            "reference": reference,
            "credits": credits,
            "remaining": credits,
            "expires_at": expires_at,
            "created_at": now,
        }
        self._connection.execute(_add_lot(self._connection.dialect.name), values)

    def purchase_lot(self, user_id: str, purchase_id: int) -> int | None:
        return self._connection.execute(
            select(credit_lots.c.id).where(
                credit_lots.c.user_id == user_id, credit_lots.c.purchase_id == purchase_id
            )
        ).scalar_one_or_none()

    def take(self, lot_id: int, credits: int) -> None:
        self._connection.execute(
            update(credit_lots)
            .where(credit_lots.c.id == lot_id)
            .values(remaining=credit_lots.c.remaining - credits)
        )

    def expired(self, now: datetime, limit: int) -> list[tuple[str, Lot]]:
        """(user id, lot) of lots past their expiry that still hold credits, oldest first."""
        query = (
            select(credit_lots)
            .where(credit_lots.c.remaining > 0, credit_lots.c.expires_at <= now)
            .order_by(credit_lots.c.expires_at, credit_lots.c.id)
            .limit(limit)
        )
        return [(row._mapping["user_id"], _lot(row)) for row in self._connection.execute(query)]

    def get(self, lot_id: int) -> Lot:
        return _lot(
            self._connection.execute(select(credit_lots).where(credit_lots.c.id == lot_id)).one()
        )


@cache
def _add_lot(dialect: str) -> Executable:
    """Built once per dialect: `excluded` copies every column of the table each time it is made
    (a millisecond per grant here), and the statement never changes."""
    insert = upsert(dialect, credit_lots)
    return insert.on_conflict_do_update(
        index_elements=["purchase_id", "user_id"],
        set_={
            "credits": credit_lots.c.credits + insert.excluded.credits,
            "remaining": credit_lots.c.remaining + insert.excluded.remaining,
        },
    )


def _lot(row: Row[tuple[object, ...]]) -> Lot:
    m = row._mapping
    return Lot(
        id=m["id"],
        source=LotSource(m["source"]),
        remaining=m["remaining"],
        expires_at=m["expires_at"],
        purchase_id=m["purchase_id"],
    )
