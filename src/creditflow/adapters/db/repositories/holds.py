"""Holds as stored: loaded and written as domain/holds.py decided, nothing decided here.

The wallet's load sums its live holds with `LIVE_TOTAL` under the wallet's lock (wallets.py),
so holds opened on one wallet queue up behind each other like its postings do.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, case, func, or_, select, update

from creditflow.adapters.db.tables import holds
from creditflow.domain.holds import Hold, HoldStatus, HoldTotals

HELD = HoldStatus.HELD.value
LIVE_TOTAL = select(func.coalesce(func.sum(holds.c.credits), 0).label("held")).where(
    holds.c.user_id == bindparam("user_id"),
    holds.c.status == HELD,
    holds.c.expires_at > bindparam("now"),
)
_CLOSE = (
    update(holds)
    .where(holds.c.id == bindparam("hold_id"), holds.c.status == HELD)
    .values(
        status=bindparam("new_status"),
        captured=bindparam("new_captured"),
        released=bindparam("new_released"),
        closed_at=bindparam("now"),
    )
)


class HoldRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, hold_id: str) -> Hold | None:
        return self._one(select(holds).where(holds.c.id == hold_id))

    def lock(self, hold_id: str) -> Hold | None:
        """The hold locked for this transaction: a capture and a void of it queue up."""
        return self._one(select(holds).where(holds.c.id == hold_id).with_for_update())

    def live_total(self, user_id: str, now: datetime) -> int:
        """What the wallet's live holds reserve, read without its lock (for display)."""
        params = {"user_id": user_id, "now": now}
        return int(self._connection.execute(LIVE_TOTAL, params).scalar_one())

    def by_key(self, key: str) -> Hold | None:
        return self._one(select(holds).where(holds.c.idempotency_key == key))

    def add(self, hold: Hold) -> None:
        self._connection.execute(holds.insert().values(**_values(hold)))

    def close(self, hold: Hold, now: datetime) -> None:
        """Store a capture or void; the row must still be held (its lock says it is)."""
        params = {
            "hold_id": hold.id,
            "new_status": hold.status.value,
            "new_captured": hold.captured,
            "new_released": hold.released,
            "now": now,
        }
        if self._connection.execute(_CLOSE, params).rowcount != 1:
            raise AssertionError(f"hold {hold.id} closed twice")

    def of_wallet(
        self, user_id: str, status: HoldStatus | None, now: datetime, limit: int
    ) -> list[Hold]:
        """Newest first; a held hold past its expiry is listed as expired (holds.status_at)."""
        query = select(holds).where(holds.c.user_id == user_id)
        past = holds.c.expires_at <= now
        if status is HoldStatus.HELD:
            query = query.where(holds.c.status == HELD, ~past)
        elif status is HoldStatus.EXPIRED:
            lapsed = (holds.c.status == HELD) & past
            query = query.where(or_(holds.c.status == status.value, lapsed))
        elif status is not None:
            query = query.where(holds.c.status == status.value)
        query = query.order_by(holds.c.created_at.desc(), holds.c.id.desc()).limit(limit)
        return [hold_from(row._mapping) for row in self._connection.execute(query)]

    def expire_due(self, now: datetime, limit: int) -> list[Hold]:
        """Mark up to `limit` holds past their expiry expired. On PostgreSQL the rows a capture
        or void has locked are skipped (FOR UPDATE SKIP LOCKED): that one decides them."""
        due = (
            select(holds.c.id)
            .where(holds.c.status == HELD, holds.c.expires_at <= now)
            .order_by(holds.c.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list(self._connection.execute(due).scalars())
        if not ids:
            return []
        marked = (
            update(holds)
            .where(holds.c.id.in_(ids), holds.c.status == HELD)
            .values(status=HoldStatus.EXPIRED.value, released=holds.c.credits, closed_at=now)
            .returning(*holds.columns)
        )
        return [hold_from(row._mapping) for row in self._connection.execute(marked)]

    def totals(self, now: datetime) -> HoldTotals:
        """One GROUP BY over the holds table, a held hold past `now` counted as expired."""
        lapsed = (holds.c.status == HELD) & (holds.c.expires_at <= now)
        status = case((lapsed, HoldStatus.EXPIRED.value), else_=holds.c.status)
        live_credits = case((holds.c.status == HELD, holds.c.credits), else_=0)
        query = select(status, func.count(), func.sum(live_credits)).group_by(status)
        counts = {
            HoldStatus(s): (int(n), int(c or 0)) for s, n, c in self._connection.execute(query)
        }
        return HoldTotals(
            opened=sum(n for n, _ in counts.values()),
            captured=counts.get(HoldStatus.CAPTURED, (0, 0))[0],
            voided=counts.get(HoldStatus.VOIDED, (0, 0))[0],
            expired=counts.get(HoldStatus.EXPIRED, (0, 0))[0],
            credits_held=counts.get(HoldStatus.HELD, (0, 0))[1],
        )

    def _one(self, query: Select[Any]) -> Hold | None:
        row = self._connection.execute(query).one_or_none()
        return None if row is None else hold_from(row._mapping)


def _values(hold: Hold) -> dict[str, object]:
    return {
        "id": hold.id,
        "user_id": hold.user_id,
        "credits": hold.credits,
        "status": hold.status.value,
        "idempotency_key": hold.key,
        "reason": hold.reason,
        "expires_at": hold.expires_at,
        "created_at": hold.created_at,
        "captured": hold.captured,
        "released": hold.released,
    }


def hold_from(m: Mapping[Any, Any]) -> Hold:
    return Hold(
        id=m["id"],
        user_id=m["user_id"],
        credits=m["credits"],
        status=HoldStatus(m["status"]),
        key=m["idempotency_key"],
        reason=m["reason"],
        expires_at=m["expires_at"],
        created_at=m["created_at"],
        captured=m["captured"],
        released=m["released"],
    )
