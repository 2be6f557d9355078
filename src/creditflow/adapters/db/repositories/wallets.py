"""Wallets, their ledger and lots: loaded with the wallet's lock, stored as `decide` returned.

This module decides nothing (domain/wallet.py does): `load` reads what a decision needs, under
the wallet row's lock, and `store` writes a `Posted` back: one round trip each on PostgreSQL
(adapters/db/pipeline.py), the same statements in turn on SQLite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Executable, bindparam, or_, select, update

from creditflow.adapters.db.pipeline import Rows, Statement, run_together
from creditflow.adapters.db.repositories._sql import upsert
from creditflow.adapters.db.repositories.holds import LIVE_TOTAL
from creditflow.adapters.db.tables import credit_lots, ledger_entries, wallets
from creditflow.domain.kinds import LotSource
from creditflow.domain.users import Wallet
from creditflow.domain.wallet import (
    LedgerEntry,
    Lot,
    NewLot,
    Posted,
    Posting,
    Refill,
    WalletState,
)
from creditflow.errors import NotFound

# A load told no time counts every hold not closed, expired or not: fewer credits to spend,
# never more (domain/holds.py: a hold past its expiry stops counting for loads that say when).
_EVERY_OPEN_HOLD = datetime(1970, 1, 1, tzinfo=UTC)


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

    def load(
        self,
        user_id: str,
        key: str | None = None,
        purchase_id: int | None = None,
        *,
        now: datetime | None = None,
    ) -> WalletState:
        """The wallet row locked first, so concurrent postings to one wallet queue up; then,
        each statement seeing every commit before the lock was granted, its open lots (and
        `purchase_id`'s lot, even empty), the credits its holds live at `now` reserve, and the
        entry already under `key`. One round trip on PostgreSQL, BEGIN included (pipeline.py)."""
        statements = self.loading(user_id, key, purchase_id, now=now)
        return self.loaded(user_id, key, run_together(self._connection, statements))

    @staticmethod
    def loading(
        user_id: str,
        key: str | None = None,
        purchase_id: int | None = None,
        *,
        now: datetime | None = None,
    ) -> list[Statement]:
        """`load`'s statements, for a load that sends them with others; `loaded` reads them."""
        statements: list[Statement] = [
            (_LOCK, {"user_id": user_id}),
            (_LOTS, {"user_id": user_id, "purchase_id": purchase_id}),
            (LIVE_TOTAL, {"user_id": user_id, "now": now or _EVERY_OPEN_HOLD}),
        ]
        if key is not None:
            statements.append((_ENTRY, {"key": key}))
        return statements

    @staticmethod
    def loaded(user_id: str, key: str | None, results: Sequence[Rows]) -> WalletState:
        wallet, lots, held, *entry = results
        if not wallet:
            raise NotFound(f"no user {user_id}")
        entries = {key: entry_from(entry[0][0])} if key is not None and entry[0] else {}
        balance = int(wallet[0]["balance"])
        found = tuple(lot_from(row) for row in lots)
        return WalletState(user_id, balance, found, entries, held=int(held[0]["held"]))

    def store(self, posted: Posted) -> LedgerEntry:
        """The entry, the lots it moves and the balance, written together: one round trip on
        PostgreSQL. The entry is a plain insert, its key checked by the load under the wallet's
        lock: a key posted meanwhile by another wallet's transaction fails loudly."""
        new = posted.entry
        statements: list[Statement] = [(_INSERT_ENTRY, entry_values(posted))]
        statements += [(_TAKE, {"lot_id": lot, "moved": credits}) for lot, credits in posted.takes]
        if isinstance(posted.lot, NewLot):
            statements.append((_add_lot(self._connection.dialect.name), lot_values(posted)))
        elif isinstance(posted.lot, Refill):
            statements.append((_REFILL, {"lot_id": posted.lot.lot_id, "moved": posted.lot.credits}))
        balance = {"wallet": new.user_id, "new_balance": new.balance_after, "now": new.created_at}
        statements.append((_SET_BALANCE, balance))
        inserted, *_ = run_together(self._connection, statements)
        return new.stored(inserted[0]["id"])

    def load_many(
        self, postings: Sequence[Posting], now: datetime | None = None
    ) -> dict[str, WalletState]:
        """`load` for every wallet of a batch at once, locked in user id order."""
        from creditflow.adapters.db.repositories import wallet_batches  # it imports this module

        return wallet_batches.load_many(self._connection, postings, now or _EVERY_OPEN_HOLD)

    def store_many(self, batch: Sequence[Posted]) -> list[LedgerEntry]:
        """`store` for a batch decided in a row: set-based, every table written once."""
        from creditflow.adapters.db.repositories import wallet_batches

        return wallet_batches.store_many(self._connection, batch)

    def expired_lots(self, now: datetime, limit: int) -> list[tuple[str, Lot]]:
        """(user id, lot) of lots past their expiry that still hold credits, oldest first."""
        query = (
            select(credit_lots)
            .where(credit_lots.c.remaining > 0, credit_lots.c.expires_at <= now)
            .order_by(credit_lots.c.expires_at, credit_lots.c.id)
            .limit(limit)
        )
        found = self._connection.execute(query)
        return [(row._mapping["user_id"], lot_from(row._mapping)) for row in found]

    def entries(self, user_id: str, *, limit: int, before_id: int | None) -> list[LedgerEntry]:
        """Newest first; keyset pagination so a page costs the same however long the history.

        The wallet is matched as a range of one value, in (user_id, id) order, so that only the
        (user_id, id) index can give the order: matched by equality, PostgreSQL drops user_id
        from the order and, for a wallet holding many entries, walks the primary key backwards,
        filtering out every newer entry of the others first (100,000 of them for one page at a
        million entries in `make bench-scale`).
        """
        user = ledger_entries.c.user_id
        query = (
            select(ledger_entries)
            .where(user >= user_id, user <= user_id)
            .order_by(user.desc(), ledger_entries.c.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            query = query.where(ledger_entries.c.id < before_id)
        return [entry_from(row._mapping) for row in self._connection.execute(query)]


_LOCK = select(wallets.c.balance).where(wallets.c.user_id == bindparam("user_id")).with_for_update()
# Only what `lot_from` reads; each column returned is CPU spent on every load.
_LOTS = (
    select(
        credit_lots.c.id,
        credit_lots.c.source,
        credit_lots.c.remaining,
        credit_lots.c.expires_at,
        credit_lots.c.purchase_id,
    )
    .where(
        credit_lots.c.user_id == bindparam("user_id"),
        or_(credit_lots.c.remaining > 0, credit_lots.c.purchase_id == bindparam("purchase_id")),
    )
    .order_by(credit_lots.c.id)
)
_ENTRY = select(ledger_entries).where(ledger_entries.c.idempotency_key == bindparam("key"))
# The id is all the database adds to the entry the domain decided (`NewEntry.stored`).
_INSERT_ENTRY = ledger_entries.insert().returning(ledger_entries.c.id)
_SET_BALANCE = (
    update(wallets)
    .where(wallets.c.user_id == bindparam("wallet"))
    .values(balance=bindparam("new_balance"), updated_at=bindparam("now"))
)
_TAKE = (
    update(credit_lots)
    .where(credit_lots.c.id == bindparam("lot_id"))
    .values(remaining=credit_lots.c.remaining - bindparam("moved"))
)
_REFILL = (
    update(credit_lots)
    .where(credit_lots.c.id == bindparam("lot_id"))
    .values(
        credits=credit_lots.c.credits + bindparam("moved"),
        remaining=credit_lots.c.remaining + bindparam("moved"),
    )
)


@cache
def _add_lot(dialect: str) -> Executable:
    """Built once per dialect: `excluded` copies every column of the table each time it is made
    (a millisecond per grant here), and the statement never changes. A purchase's credits
    return to its own lot if the load did not see it."""
    insert = upsert(dialect, credit_lots)
    return insert.on_conflict_do_update(
        index_elements=["purchase_id", "user_id"],
        set_={
            "credits": credit_lots.c.credits + insert.excluded.credits,
            "remaining": credit_lots.c.remaining + insert.excluded.remaining,
        },
    )


def entry_values(posted: Posted) -> dict[str, object]:
    new = posted.entry
    return {
        "user_id": new.user_id,
        "delta": new.delta,
        "balance_after": new.balance_after,
        "kind": new.kind.value,
        "reference": new.reference,
        "reason": new.reason,
        "purchase_id": new.purchase_id,
        "idempotency_key": new.key,
        "created_at": new.created_at,
        "expires_at": new.expires_at,
    }


def lot_values(posted: Posted) -> dict[str, object]:
    lot = posted.lot
    assert isinstance(lot, NewLot)
    return {
        "user_id": posted.entry.user_id,
        "source": lot.source.value,
        "purchase_id": lot.purchase_id,
        "reference": lot.reference,
        "credits": lot.credits,
        "remaining": lot.credits,
        "expires_at": lot.expires_at,
        "created_at": posted.entry.created_at,
    }


def entry_from(m: Mapping[Any, Any]) -> LedgerEntry:
    return LedgerEntry(
        id=m["id"],
        user_id=m["user_id"],
        delta=m["delta"],
        balance_after=m["balance_after"],
        kind=m["kind"],
        reference=m["reference"],
        reason=m["reason"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
    )


def lot_from(m: Mapping[Any, Any]) -> Lot:
    return Lot(
        id=m["id"],
        source=LotSource(m["source"]),
        remaining=m["remaining"],
        expires_at=m["expires_at"],
        purchase_id=m["purchase_id"],
    )
