"""An in-memory unit of work for the wallet paths (spend, grant, expiry): the money rules tested
through the real services without a database.

It keeps what a real one promises the services: nothing is seen by the next unit of work unless
committed. The inbox, purchases and pending grants are not kept in memory: touching them fails
the test.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType

from creditflow.domain.deliveries import Arrival
from creditflow.domain.holds import Hold, HoldStatus, HoldTotals, is_live, status_at
from creditflow.domain.purchase_record import Purchase
from creditflow.domain.users import User, Wallet
from creditflow.domain.wallet import (
    LedgerEntry,
    Lot,
    NewLot,
    Posted,
    Posting,
    Refill,
    WalletState,
)
from creditflow.domain.wallet_batch import OpenedLot, combine
from creditflow.errors import NotFound
from creditflow.services.unit_of_work import (
    Customers,
    Inbox,
    PendingGrants,
    Purchases,
    Subscriptions,
    UnitOfWorkFactory,
)


@dataclass
class Tables:
    users: dict[str, User] = field(default_factory=dict)
    wallets: dict[str, Wallet] = field(default_factory=dict)
    lots: dict[int, tuple[str, Lot]] = field(default_factory=dict)  # id -> (user id, lot)
    entries: dict[str, LedgerEntry] = field(default_factory=dict)  # by idempotency key
    holds: dict[str, Hold] = field(default_factory=dict)  # by id
    last_id: int = 0  # one sequence for lots and entries: ids are only compared for order

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id


class MemoryWallets:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def get(self, user_id: str) -> Wallet | None:
        return self._tables.wallets.get(user_id)

    def load(
        self,
        user_id: str,
        key: str | None = None,
        purchase_id: int | None = None,
        *,
        now: datetime | None = None,
    ) -> WalletState:
        wallet = self._tables.wallets.get(user_id)
        if wallet is None:
            raise NotFound(f"no user {user_id}")
        lots = tuple(
            lot
            for owner, lot in self._tables.lots.values()
            if owner == user_id and (lot.remaining > 0 or lot.purchase_id == purchase_id)
        )
        original = None if key is None else self._tables.entries.get(key)
        entries = {} if key is None or original is None else {key: original}
        held = sum(
            hold.credits
            for hold in self._tables.holds.values()
            if hold.user_id == user_id
            and (is_live(hold, now) if now else hold.status is HoldStatus.HELD)
        )
        return WalletState(user_id, wallet.balance, lots, entries, held)

    def store(self, posted: Posted) -> LedgerEntry:
        new = posted.entry
        if new.key in self._tables.entries:
            raise AssertionError(f"key {new.key} stored twice (the unique index refuses it)")
        for lot_id, credits in posted.takes:
            self._move(lot_id, -credits)
        if isinstance(posted.lot, Refill):
            self._move(posted.lot.lot_id, posted.lot.credits)
        elif isinstance(posted.lot, NewLot):
            self._add_lot(new.user_id, posted.lot)
        entry = new.stored(self._tables.next_id())
        self._tables.entries[new.key] = entry
        self._tables.wallets[new.user_id] = Wallet(new.user_id, new.balance_after, new.created_at)
        return entry

    def load_many(
        self, postings: Sequence[Posting], now: datetime | None = None
    ) -> dict[str, WalletState]:
        states: dict[str, WalletState] = {}
        for posting in postings:
            if posting.user_id not in self._tables.wallets:
                continue
            loaded = self.load(posting.user_id, posting.key, posting.purchase_id, now=now)
            had = states.get(posting.user_id)
            if had is not None:
                lots = {lot.id: lot for lot in (*had.lots, *loaded.lots)}
                entries = {**had.entries, **loaded.entries}
                loaded = replace(loaded, lots=tuple(lots[i] for i in sorted(lots)), entries=entries)
            states[posting.user_id] = loaded
        return states

    def store_many(self, batch: Sequence[Posted]) -> list[LedgerEntry]:
        """What `combine` folded the batch into, row by row, as the SQL stores write it."""
        changes = combine(batch)
        stored = []
        for new in changes.entries:
            if new.key in self._tables.entries:
                raise AssertionError(f"key {new.key} stored twice (the unique index refuses it)")
            entry = new.stored(self._tables.next_id())
            self._tables.entries[new.key] = entry
            stored.append(entry)
        for opened in changes.opened:
            self._open(opened)
        for move in changes.moved:
            owner, lot = self._tables.lots[move.lot_id]
            assert lot.remaining + move.remaining >= 0, "a lot never holds fewer than zero credits"
            moved = replace(lot, remaining=lot.remaining + move.remaining)
            self._tables.lots[move.lot_id] = (owner, moved)
        for balance in changes.balances:
            wallet = Wallet(balance.user_id, balance.balance, balance.updated_at)
            self._tables.wallets[balance.user_id] = wallet
        return stored

    def expired_lots(self, now: datetime, limit: int) -> list[tuple[str, Lot]]:
        due = [
            (owner, lot)
            for owner, lot in self._tables.lots.values()
            if lot.remaining > 0 and lot.expires_at is not None and lot.expires_at <= now
        ]
        return sorted(due, key=lambda pair: (pair[1].expires_at, pair[1].id))[:limit]

    def entries(self, user_id: str, *, limit: int, before_id: int | None) -> list[LedgerEntry]:
        mine = [e for e in self._tables.entries.values() if e.user_id == user_id]
        newest = sorted(mine, key=lambda e: -e.id)
        return [e for e in newest if before_id is None or e.id < before_id][:limit]

    def _open(self, opened: OpenedLot) -> None:
        key = (opened.user_id, opened.purchase_id)
        for lot_id, (owner, lot) in self._tables.lots.items():
            if opened.purchase_id is not None and (owner, lot.purchase_id) == key:
                self._move(lot_id, opened.remaining)  # the upsert on (purchase_id, user_id)
                return
        lot_id = self._tables.next_id()
        lot = Lot(lot_id, opened.source, opened.remaining, opened.expires_at, opened.purchase_id)
        self._tables.lots[lot_id] = (opened.user_id, lot)

    def _move(self, lot_id: int, credits: int) -> None:
        owner, lot = self._tables.lots[lot_id]
        assert lot.remaining + credits >= 0, "a lot never holds fewer than zero credits"
        self._tables.lots[lot_id] = (owner, replace(lot, remaining=lot.remaining + credits))

    def _add_lot(self, user_id: str, new: NewLot) -> None:
        for lot_id, (owner, lot) in self._tables.lots.items():
            if new.purchase_id is not None and (owner, lot.purchase_id) == (
                user_id,
                new.purchase_id,
            ):
                self._move(lot_id, new.credits)  # the upsert on (purchase_id, user_id)
                return
        lot_id = self._tables.next_id()
        lot = Lot(lot_id, new.source, new.credits, new.expires_at, new.purchase_id)
        self._tables.lots[lot_id] = (user_id, lot)


class MemoryHolds:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def get(self, hold_id: str) -> Hold | None:
        return self._tables.holds.get(hold_id)

    def lock(self, hold_id: str) -> Hold | None:
        return self._tables.holds.get(hold_id)

    def live_total(self, user_id: str, now: datetime) -> int:
        mine = self._tables.holds.values()
        return sum(h.credits for h in mine if h.user_id == user_id and is_live(h, now))

    def by_key(self, key: str) -> Hold | None:
        return next((h for h in self._tables.holds.values() if h.key == key), None)

    def add(self, hold: Hold) -> None:
        assert self.by_key(hold.key) is None, "the unique index refuses a key twice"
        self._tables.holds[hold.id] = hold

    def close(self, hold: Hold, now: datetime) -> None:
        assert self._tables.holds[hold.id].status is HoldStatus.HELD, "closed twice"
        self._tables.holds[hold.id] = hold

    def of_wallet(
        self, user_id: str, status: HoldStatus | None, now: datetime, limit: int
    ) -> list[Hold]:
        mine = [h for h in self._tables.holds.values() if h.user_id == user_id]
        chosen = [h for h in mine if status is None or status_at(h, now) is status]
        return sorted(chosen, key=lambda h: (h.created_at, h.id), reverse=True)[:limit]

    def totals(self, now: datetime) -> HoldTotals:
        seen = [status_at(h, now) for h in self._tables.holds.values()]
        return HoldTotals(
            opened=len(seen),
            captured=seen.count(HoldStatus.CAPTURED),
            voided=seen.count(HoldStatus.VOIDED),
            expired=seen.count(HoldStatus.EXPIRED),
            credits_held=sum(h.credits for h in self._tables.holds.values() if is_live(h, now)),
        )

    def expire_due(self, now: datetime, limit: int) -> list[Hold]:
        due = [h for h in self._tables.holds.values() if status_at(h, now) is HoldStatus.EXPIRED]
        due = [h for h in due if h.status is HoldStatus.HELD][:limit]
        marked = [replace(h, status=HoldStatus.EXPIRED, released=h.credits) for h in due]
        self._tables.holds.update((h.id, h) for h in marked)
        return marked


class MemoryUsers:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def get(self, user_id: str) -> User | None:
        return self._tables.users.get(user_id)

    def find_by_email(self, email_key: str) -> User | None:
        return next((u for u in self._tables.users.values() if u.email == email_key), None)

    def save(self, user_id: str, email: str | None, email_key: str | None, now: datetime) -> bool:
        created = user_id not in self._tables.users
        created_at = now if created else self._tables.users[user_id].created_at
        self._tables.users[user_id] = User(user_id, email, created_at)
        if created:
            self._tables.wallets[user_id] = Wallet(user_id, 0, now)
        return created


class MemoryDatabase:
    """What committed units of work left behind; `units_of_work()` opens them."""

    def __init__(self) -> None:
        self.tables = Tables()

    def units_of_work(self) -> UnitOfWorkFactory:
        return lambda: MemoryUnitOfWork(self)


class MemoryUnitOfWork:
    inbox: Inbox  # not in memory: the wallet paths never touch it
    purchases: Purchases
    pending: PendingGrants
    customers: Customers
    subscriptions: Subscriptions

    def __init__(self, database: MemoryDatabase) -> None:
        self._database = database
        self._tables = copy.deepcopy(database.tables)
        self.users = MemoryUsers(self._tables)
        self.wallets = MemoryWallets(self._tables)
        self.holds = MemoryHolds(self._tables)

    def __enter__(self) -> MemoryUnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Nothing to undo: uncommitted work is dropped with this copy of the tables."""

    def commit(self) -> None:
        self._database.tables = copy.deepcopy(self._tables)

    def receive(self, **_delivery: object) -> tuple[Arrival, User | None]:
        """The inbox is not in memory (the module docstring)."""
        raise NotImplementedError("deliveries are tested on real databases")

    def receive_many(self, *_args: object) -> list[tuple[Arrival, User | None]]:
        """The inbox is not in memory (the module docstring)."""
        raise NotImplementedError("deliveries are tested on real databases")

    def insert_or_lock_purchase(self, *_args: object) -> tuple[Purchase, bool, WalletState | None]:
        """Purchases are not in memory (the module docstring)."""
        raise NotImplementedError("purchases are tested on real databases")

    def insert_or_lock_purchases(self, *_args: object) -> tuple[list[Purchase], list[bool]]:
        """Purchases are not in memory (the module docstring)."""
        raise NotImplementedError("purchases are tested on real databases")

    def store_paid(self, *_args: object, with_commit: bool) -> None:
        """Purchases are not in memory (the module docstring)."""
        raise NotImplementedError("purchases are tested on real databases")

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """Nothing to do: a failed step's writes go with the uncommitted copy of the tables."""
        yield

    def lock_identities(self, keys: Iterable[str]) -> None:
        """One thread, one transaction at a time: nothing to serialise."""
