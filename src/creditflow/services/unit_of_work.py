"""What the services need of a unit of work and its repositories, as protocols.

Services depend on these, never on the SQLAlchemy unit of work in `adapters/db/`, which
implements them (so does the in-memory one of the unit tests). A unit of work is one
transaction: rolled back on leaving its `with` block unless `commit()` ran; repositories load
and store, they decide nothing (docs/design.md, load, decide, store).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import Protocol

from creditflow.domain.deliveries import Arrival, StoredDelivery
from creditflow.domain.holds import Hold, HoldStatus, HoldTotals
from creditflow.domain.money_back import RecordedRefund
from creditflow.domain.pending import PendingGrant
from creditflow.domain.purchase_record import NewPurchase, Purchase, PurchaseChange
from creditflow.domain.statuses import DeliveryStatus, PurchaseStatus
from creditflow.domain.users import User, Wallet
from creditflow.domain.wallet import LedgerEntry, Lot, Posted, WalletState


class Wallets(Protocol):
    def get(self, user_id: str) -> Wallet | None: ...

    def load(
        self,
        user_id: str,
        key: str | None = None,
        purchase_id: int | None = None,
        *,
        now: datetime | None = None,
    ) -> WalletState:
        """The wallet locked for this transaction, its open lots (and `purchase_id`'s lot),
        the credits its holds live at `now` reserve (every open hold's without `now`), and the
        entry already under `key`; NotFound without a wallet."""
        ...

    def store(self, posted: Posted) -> LedgerEntry:
        """Write what `decide` returned: the entry, its lots and the balance, together."""
        ...

    def expired_lots(self, now: datetime, limit: int) -> list[tuple[str, Lot]]: ...

    def entries(self, user_id: str, *, limit: int, before_id: int | None) -> list[LedgerEntry]: ...


class Holds(Protocol):
    def get(self, hold_id: str) -> Hold | None: ...

    def lock(self, hold_id: str) -> Hold | None:
        """The hold locked for this transaction (after its wallet: the one lock order)."""
        ...

    def by_key(self, key: str) -> Hold | None: ...

    def live_total(self, user_id: str, now: datetime) -> int: ...

    def add(self, hold: Hold) -> None: ...

    def close(self, hold: Hold, now: datetime) -> None:
        """Store the capture or void decided on the hold as locked."""
        ...

    def of_wallet(
        self, user_id: str, status: HoldStatus | None, now: datetime, limit: int
    ) -> list[Hold]: ...

    def expire_due(self, now: datetime, limit: int) -> list[Hold]:
        """Mark holds past their expiry expired (no credits move); those marked."""
        ...

    def totals(self, now: datetime) -> HoldTotals: ...


class Users(Protocol):
    def get(self, user_id: str) -> User | None: ...

    def find_by_email(self, email_key: str) -> User | None: ...

    def save(
        self, user_id: str, email: str | None, email_key: str | None, now: datetime
    ) -> bool: ...


class Inbox(Protocol):
    def receive(
        self,
        *,
        event_id: str,
        event_type: str,
        livemode: bool,
        payload: str,
        endpoint: str,
        now: datetime,
    ) -> Arrival: ...

    def lock(self, event_id: str) -> StoredDelivery | None: ...

    def get(self, event_id: str) -> StoredDelivery | None: ...

    def known(self, event_ids: Sequence[str]) -> set[str]: ...

    def record_outcome(
        self, event_id: str, status: DeliveryStatus, error: str | None, now: datetime
    ) -> None: ...

    def count(self, status: DeliveryStatus) -> int: ...

    def list(
        self,
        status: DeliveryStatus | None,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[StoredDelivery]: ...


class Purchases(Protocol):
    def add_if_absent(self, new: NewPurchase, now: datetime) -> Purchase | None: ...

    def get(self, purchase_id: int) -> Purchase: ...

    def lock_by_id(self, purchase_id: int) -> Purchase: ...

    def lock(self, checkout_session_id: str | None, payment_intent_id: str | None) -> Purchase: ...

    def find(
        self, checkout_session_id: str | None, payment_intent_id: str | None
    ) -> Purchase | None: ...

    def apply(self, purchase_id: int, change: PurchaseChange, now: datetime) -> None: ...

    def refunds(self, purchase_id: int, refund_id: str | None) -> list[RecordedRefund]: ...

    def record_refund(self, refund: RecordedRefund, now: datetime) -> None: ...

    def list(
        self,
        *,
        user_id: str | None,
        status: PurchaseStatus | None,
        limit: int,
        before_id: int | None = None,
    ) -> list[Purchase]: ...


class PendingGrants(Protocol):
    def add(
        self,
        *,
        purchase_id: int,
        user_id: str | None,
        email_key: str | None,
        credits: int,
        now: datetime,
    ) -> int: ...

    def claimable(self, user_id: str, email_key: str | None) -> list[PendingGrant]: ...

    def lock_unclaimed(self, grant_id: int) -> PendingGrant | None: ...

    def mark_claimed(self, grant_id: int, user_id: str, now: datetime) -> None: ...

    def set_credits(self, purchase_id: int, credits: int) -> None: ...

    def unclaimed_totals(self) -> tuple[int, int]: ...

    def list_unclaimed(self, limit: int, before_id: int | None = None) -> list[PendingGrant]: ...


class UnitOfWork(Protocol):
    @property
    def inbox(self) -> Inbox: ...

    @property
    def purchases(self) -> Purchases: ...

    @property
    def users(self) -> Users: ...

    @property
    def wallets(self) -> Wallets: ...

    @property
    def pending(self) -> PendingGrants: ...

    @property
    def holds(self) -> Holds: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Commit, then report the ledger entries stored to the listener (the metrics)."""
        ...

    def savepoint(self) -> AbstractContextManager[None]:
        """Undo a step's writes (and its entries' report) on error, keeping the transaction."""
        ...

    def lock_identities(self, keys: Iterable[str]) -> None:
        """Serialise work on the same user ids / e-mails across transactions."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
LedgerListener = Callable[[Sequence[LedgerEntry]], None]
