"""Wallets, their ledger and lots. `post` is the only code that changes a balance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, bindparam, func, select

from creditflow.adapters.db.repositories._sql import insert_row_if_absent, set_by_key
from creditflow.adapters.db.repositories.lots import LotRepository
from creditflow.adapters.db.tables import ledger_entries, wallets
from creditflow.domain.kinds import LotSource
from creditflow.domain.users import Wallet
from creditflow.domain.wallet import LedgerEntry, Posting, credits_for_lots, plan_take
from creditflow.errors import InsufficientCredits, NotFound


class WalletRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._lots = LotRepository(connection)
        # What this transaction posted, in order; the unit of work reports it once committed.
        self.posted: list[LedgerEntry] = []

    def get(self, user_id: str) -> Wallet | None:
        row = self._connection.execute(
            select(wallets).where(wallets.c.user_id == user_id)
        ).one_or_none()
        if row is None:
            return None
        m = row._mapping
        return Wallet(user_id=m["user_id"], balance=m["balance"], updated_at=m["updated_at"])

    def lock(self, user_id: str) -> int:
        """Lock the wallet row for this transaction; its balance. NotFound without a wallet."""
        balance = self._connection.execute(_LOCK, {"user_id": user_id}).scalar_one_or_none()
        if balance is None:
            raise NotFound(f"no user {user_id}")
        return int(balance)

    def entry_by_key(self, key: str) -> LedgerEntry | None:
        row = self._connection.execute(
            select(ledger_entries).where(ledger_entries.c.idempotency_key == key)
        ).one_or_none()
        return None if row is None else _entry(row)

    def post(self, posting: Posting, now: datetime) -> LedgerEntry | None:
        """Apply one posting: entry appended, lots and balance moved together; None if its key
        was already posted.

        The wallet row is locked first, so concurrent postings to one wallet queue up and each
        one sees every committed entry. The entry goes in first, ignoring a conflict on its key:
        that insert is the key check, so a posting already made changes nothing else.
        """
        balance = self.lock(posting.user_id)
        if self._short_of_credits(posting, balance):
            if self.entry_by_key(posting.key) is not None:
                return None  # the spend was made when there was enough: a replay, not a refusal
            raise InsufficientCredits(
                f"{posting.user_id} has {balance} credits, {-posting.delta} needed",
                balance=balance,
            )
        balance_after = balance + posting.delta
        row = insert_row_if_absent(
            self._connection,
            ledger_entries,
            {
                "user_id": posting.user_id,
                "delta": posting.delta,
                "balance_after": balance_after,
                "kind": posting.kind.value,
                "reference": posting.reference,
                "reason": posting.reason,
                "purchase_id": posting.purchase_id,
                "idempotency_key": posting.key,
                "created_at": now,
                "expires_at": posting.expires_at,
            },
            ["idempotency_key"],
        )
        if row is None:
            return None
        if posting.delta > 0:
            self._fill_lots(posting, balance, now)
        elif posting.delta < 0:
            self._empty_lots(posting)
        values = {"balance": balance_after, "updated_at": now}
        set_by_key(self._connection, wallets, posting.user_id, values)
        entry = _entry(row)
        self.posted.append(entry)
        return entry

    @staticmethod
    def _short_of_credits(posting: Posting, balance: int) -> bool:
        return posting.delta < 0 and -posting.delta > balance and not posting.allow_debt

    def _fill_lots(self, posting: Posting, balance: int, now: datetime) -> None:
        credits = credits_for_lots(posting.delta, balance)
        if credits == 0:
            return
        source = LotSource.GRANT if posting.purchase_id is None else LotSource.PURCHASE
        self._lots.add(
            user_id=posting.user_id,
            source=source,
            credits=credits,
            reference=posting.reference,
            purchase_id=posting.purchase_id,
            expires_at=posting.expires_at,
            now=now,
        )

    def _empty_lots(self, posting: Posting) -> None:
        wanted = -posting.delta
        prefer = posting.from_lot
        if prefer is None and posting.purchase_id is not None:
            prefer = self._lots.purchase_lot(posting.user_id, posting.purchase_id)
        for lot_id, credits in plan_take(self._lots.open_lots(posting.user_id), wanted, prefer):
            self._lots.take(lot_id, credits)

    def count_for_purchase(self, purchase_id: int) -> int:
        return int(
            self._connection.execute(
                select(func.count())
                .select_from(ledger_entries)
                .where(ledger_entries.c.purchase_id == purchase_id)
            ).scalar_one()
        )

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
        return [_entry(row) for row in self._connection.execute(query)]


_LOCK = select(wallets.c.balance).where(wallets.c.user_id == bindparam("user_id")).with_for_update()


def _entry(row: Row[tuple[object, ...]]) -> LedgerEntry:
    m = row._mapping
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
