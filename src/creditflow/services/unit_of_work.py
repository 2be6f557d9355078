"""What the services need of a unit of work and its repositories, as protocols.

Services depend on these, never on the SQLAlchemy unit of work in `adapters/db/`, which
implements them (so does the in-memory one of the unit tests). A unit of work is one
transaction: rolled back on leaving its `with` block unless `commit()` ran; repositories load
and store, they decide nothing (docs/design.md, load, decide, store).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import Protocol

from creditflow.domain.buyers import Buyer
from creditflow.domain.deliveries import Arrival, Arriving, StoredDelivery
from creditflow.domain.findings import Finding
from creditflow.domain.holds import Hold, HoldStatus, HoldTotals
from creditflow.domain.ledger_totals import SplitGroups
from creditflow.domain.money_back import RecordedRefund
from creditflow.domain.operator_views import (
    HoldCursor,
    InboxCursor,
    InboxFilter,
    Refund,
    ReplayNote,
)
from creditflow.domain.pending import PendingGrant
from creditflow.domain.purchase_record import NewPurchase, Purchase, PurchaseChange
from creditflow.domain.statuses import DeliveryStatus, PurchaseStatus
from creditflow.domain.subscriptions import Subscription, SubscriptionGrant
from creditflow.domain.users import User, Wallet
from creditflow.domain.wallet import LedgerEntry, Lot, Posted, Posting, WalletState


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

    def load_many(
        self, postings: Sequence[Posting], now: datetime | None = None
    ) -> dict[str, WalletState]:
        """`load` for a batch (services/group_commit.py): the wallets these postings go to,
        locked in user id order, with their lots, the credits their holds live at `now`
        reserve, and the entries under the postings' keys; a wallet that does not exist is
        left out."""
        ...

    def store_many(self, batch: Sequence[Posted]) -> list[LedgerEntry]:
        """`store` for postings decided in a row on the loaded wallets: their entries, in
        order, written with their lots and balances in set-based statements."""
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

    def record_outcomes(
        self, outcomes: Sequence[tuple[str, DeliveryStatus, str | None]], now: datetime
    ) -> None:
        """`record_outcome` of several deliveries (event id, status, error), together."""
        ...

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

    def lock_invoice(self, invoice_id: str) -> Purchase | None: ...

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


class Customers(Protocol):
    def user_for(self, customer_id: str) -> str | None: ...

    def link(self, customer_id: str, user_id: str, now: datetime) -> bool: ...


class Subscriptions(Protocol):
    def add_if_absent(self, sub: Subscription, now: datetime) -> Subscription | None:
        """The new row, or None when the subscription is stored already (then `lock` it)."""
        ...

    def lock(self, subscription_id: str) -> Subscription | None:
        """Locked for this transaction: the first lock an invoice or session event takes."""
        ...

    def save(self, sub: Subscription, now: datetime) -> None: ...

    def listed(self, user_id: str | None, limit: int) -> list[Subscription]: ...

    def grants(self, subscription_ids: Sequence[str]) -> dict[str, list[SubscriptionGrant]]: ...


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
    def customers(self) -> Customers: ...

    @property
    def holds(self) -> Holds: ...

    @property
    def subscriptions(self) -> Subscriptions: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def receive(
        self,
        *,
        event_id: str,
        event_type: str,
        livemode: bool,
        payload: str,
        endpoint: str,
        now: datetime,
        buyer: Buyer | None,
    ) -> tuple[Arrival, User | None]:
        """`inbox.receive`, and the user `buyer` names (None: not asked), loaded together."""
        ...

    def receive_many(
        self, arriving: Sequence[tuple[Arriving, Buyer | None]], now: datetime
    ) -> list[tuple[Arrival, User | None]]:
        """`receive` of deliveries of distinct events (a batch's), loaded together; in the
        order given."""
        ...

    def insert_or_lock_purchase(
        self, new: NewPurchase, now: datetime, wallet_of: str | None
    ) -> tuple[Purchase, bool, WalletState | None]:
        """The payment's purchase inserted as `new` or locked, whether inserted, and, when
        inserted, the wallet `wallet_of` loaded (locked) after it: loaded together."""
        ...

    def insert_or_lock_purchases(
        self, new: Sequence[NewPurchase], named: Sequence[str], now: datetime
    ) -> tuple[list[Purchase], list[bool]]:
        """`insert_or_lock_purchase` of a batch's distinct payments, together: every purchase
        with a Checkout Session or PaymentIntent id among `named`, locked in id order, and
        whether each of `new` was inserted."""
        ...

    def store_paid(
        self,
        changes: Mapping[int, PurchaseChange],
        posted: Sequence[Posted],
        now: datetime,
        *,
        with_commit: bool,
    ) -> None:
        """Each purchase's change (`purchases.apply`) and the grants (`wallets.store_many`),
        written together; `with_commit`: the next statement is the COMMIT (they may go with it)."""
        ...

    def attempt(self) -> AbstractContextManager[None]:
        """A step that, failing, leaves the transaction only to be rolled back; DatabaseUnavailable
        when the connection is lost in it."""
        ...

    def lock_identities(self, keys: Iterable[str]) -> None:
        """Serialise work on the same user ids / e-mails across transactions."""
        ...


class ConsoleReads(Protocol):
    """The operator console's pages beyond the API's views, keyset-paged, and its notes."""

    def inbox_page(
        self, where: InboxFilter, after: InboxCursor | None, limit: int
    ) -> list[StoredDelivery]: ...

    def open_lots(self, user_id: str, limit: int) -> list[Lot]: ...

    def outcomes_since(self, since: datetime) -> dict[DeliveryStatus, int]: ...

    def purchases_page(
        self,
        *,
        status: PurchaseStatus | None,
        user_id: str | None,
        before_id: int | None,
        limit: int,
    ) -> list[Purchase]: ...

    def refunds_of(self, purchase_ids: Sequence[int]) -> list[Refund]: ...

    def unclaimed_page(self, *, after_id: int | None, limit: int) -> list[PendingGrant]: ...

    def holds_page(
        self,
        *,
        status: HoldStatus | None,
        user_id: str | None,
        after: HoldCursor | None,
        now: datetime,
        limit: int,
    ) -> list[Hold]: ...

    def live_holds(self, user_id: str, now: datetime, limit: int) -> list[Hold]: ...

    def live_holds_count(self, now: datetime) -> int: ...

    def invoice_purchases(self, user_id: str, limit: int) -> list[Purchase]: ...

    def add_replay_note(self, event_id: str, note: ReplayNote) -> None: ...

    def replay_notes(self, event_id: str) -> list[ReplayNote]: ...


class LedgerTotalsReads(Protocol):
    def groups_since(self, since: datetime | None, split: datetime) -> SplitGroups:
        """Entries created at `since` or later (every entry when None), grouped by kind and
        sign, and split at `split`."""
        ...


class InvariantChecks(Protocol):
    def findings(self) -> list[Finding]:
        """One finding per invariant of docs/design.md, over the whole database."""
        ...


class ReportingUnitOfWork(UnitOfWork, Protocol):
    """A unit of work that also reads across every table: the console, metrics and audit."""

    @property
    def console(self) -> ConsoleReads: ...

    @property
    def ledger_totals(self) -> LedgerTotalsReads: ...

    @property
    def invariants(self) -> InvariantChecks: ...

    def __enter__(self) -> ReportingUnitOfWork: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
ReportingUnitOfWorkFactory = Callable[[], ReportingUnitOfWork]
