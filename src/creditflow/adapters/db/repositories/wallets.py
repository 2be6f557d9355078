"""Wallets and their ledger. `post` is the only code that changes a balance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, select, update

from creditflow.adapters.db.tables import ledger_entries, wallets
from creditflow.domain.ledger import LedgerEntry, Posting
from creditflow.domain.users import Wallet


class WalletRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, user_id: str) -> Wallet | None:
        row = self._connection.execute(
            select(wallets).where(wallets.c.user_id == user_id)
        ).one_or_none()
        if row is None:
            return None
        m = row._mapping
        return Wallet(user_id=m["user_id"], balance=m["balance"], updated_at=m["updated_at"])

    def post(self, posting: Posting, now: datetime) -> LedgerEntry | None:
        """Apply one posting: entry appended and balance moved together; None if its key exists.

        The wallet row is locked first, so concurrent postings to one wallet queue up and each
        one's key check sees every committed entry; the unique index is the last line of defence.
        """
        balance = self._connection.execute(
            select(wallets.c.balance).where(wallets.c.user_id == posting.user_id).with_for_update()
        ).scalar_one()
        exists = self._connection.execute(
            select(ledger_entries.c.id).where(ledger_entries.c.idempotency_key == posting.key)
        ).first()
        if exists is not None:
            return None
        balance_after = balance + posting.delta
        self._connection.execute(
            update(wallets)
            .where(wallets.c.user_id == posting.user_id)
            .values(balance=balance_after, updated_at=now)
        )
        entry_id = self._connection.execute(
            ledger_entries.insert()
            .values(
                user_id=posting.user_id,
                delta=posting.delta,
                balance_after=balance_after,
                kind=posting.kind.value,
                reference=posting.reference,
                idempotency_key=posting.key,
                created_at=now,
            )
            .returning(ledger_entries.c.id)
        ).scalar_one()
        return LedgerEntry(
            id=entry_id,
            user_id=posting.user_id,
            delta=posting.delta,
            balance_after=balance_after,
            kind=posting.kind.value,
            reference=posting.reference,
            created_at=now,
        )

    def entries(self, user_id: str, *, limit: int, before_id: int | None) -> list[LedgerEntry]:
        """Newest first; keyset pagination so a page costs the same however long the history."""
        query = (
            select(ledger_entries)
            .where(ledger_entries.c.user_id == user_id)
            .order_by(ledger_entries.c.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            query = query.where(ledger_entries.c.id < before_id)
        return [_entry(row) for row in self._connection.execute(query)]


def _entry(row: Row[tuple[object, ...]]) -> LedgerEntry:
    m = row._mapping
    return LedgerEntry(
        id=m["id"],
        user_id=m["user_id"],
        delta=m["delta"],
        balance_after=m["balance_after"],
        kind=m["kind"],
        reference=m["reference"],
        created_at=m["created_at"],
    )
