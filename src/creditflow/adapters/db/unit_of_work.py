"""The unit of work: one connection, one transaction, committed once or rolled back.

It implements services/unit_of_work.py's protocol. Services open it (`with uow_factory() as uow:
... uow.commit()`); nothing else begins or commits.
Connection-level failures become `DatabaseUnavailable`, which the HTTP layer answers with 503 so
Stripe retries the delivery later; only a pooled connection found dead by the transaction's first
statement is replaced, and that statement sent again, without a word (`reconnect`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from creditflow.adapters.db import pipeline, reconnect
from creditflow.adapters.db.audit import InvariantChecks
from creditflow.adapters.db.repositories import purchase_batches, wallet_batches
from creditflow.adapters.db.repositories.console import ConsoleRepository
from creditflow.adapters.db.repositories.customers import CustomerRepository
from creditflow.adapters.db.repositories.holds import HoldRepository
from creditflow.adapters.db.repositories.inbox import InboxRepository, arrival_from
from creditflow.adapters.db.repositories.ledger_totals import LedgerTotalsRepository
from creditflow.adapters.db.repositories.pending import PendingGrantRepository
from creditflow.adapters.db.repositories.purchases import PurchaseRepository
from creditflow.adapters.db.repositories.rows import purchase_from
from creditflow.adapters.db.repositories.subscriptions import SubscriptionRepository
from creditflow.adapters.db.repositories.users import UserRepository, buyers_found, user_from
from creditflow.adapters.db.repositories.wallets import WalletRepository
from creditflow.domain.buyers import Buyer
from creditflow.domain.deliveries import Arrival, Arriving
from creditflow.domain.purchase_record import NewPurchase, Purchase, PurchaseChange
from creditflow.domain.users import User
from creditflow.domain.wallet import Posted, WalletState
from creditflow.errors import Contention, DatabaseUnavailable


class UnitOfWork:
    inbox: InboxRepository
    purchases: PurchaseRepository
    users: UserRepository
    wallets: WalletRepository
    pending: PendingGrantRepository
    # The reports' reads (console, metrics, audit): services/unit_of_work.ReportingUnitOfWork.
    console: ConsoleRepository
    ledger_totals: LedgerTotalsRepository
    invariants: InvariantChecks
    customers: CustomerRepository
    holds: HoldRepository
    subscriptions: SubscriptionRepository

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def __enter__(self) -> UnitOfWork:
        try:
            # Its first statement, on a connection found dead, is sent again on a fresh one.
            connection = reconnect.connect(self._engine)
            connection.begin()
        except (OperationalError, DBAPIError) as exc:
            raise _unavailable(exc) from exc
        self._connection = connection
        self.inbox = InboxRepository(connection)
        self.purchases = PurchaseRepository(connection)
        self.users = UserRepository(connection)
        self.wallets = WalletRepository(connection)
        self.holds = HoldRepository(connection)
        self.pending = PendingGrantRepository(connection)
        self.console = ConsoleRepository(connection)
        self.ledger_totals = LedgerTotalsRepository(connection)
        self.invariants = InvariantChecks(connection)
        self.customers = CustomerRepository(connection)
        self.subscriptions = SubscriptionRepository(connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self._require()
        pipeline.forget_later_writes(connection)
        try:
            connection.rollback()  # no-op after commit(); undoes everything otherwise
        except DBAPIError:
            pass  # the connection is already gone; closing it below discards it
        finally:
            connection.close()
        if isinstance(exc, DBAPIError) and _is_connection_failure(exc):
            raise _unavailable(exc) from exc

    def commit(self) -> None:
        with _connection_failures_unavailable():
            pipeline.commit(self._require())

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
        """The inbox's `receive` and the user `buyer` names, looked up in the same round trip
        (with BEGIN, on PostgreSQL): what a delivery's first decisions need."""
        arrival = self.inbox.arrival(
            event_id=event_id,
            event_type=event_type,
            livemode=livemode,
            payload=payload,
            endpoint=endpoint,
            now=now,
        )
        if buyer is None:
            [[row]] = pipeline.run_together(self._require(), [arrival])
            return arrival_from(row), None
        [row], found = pipeline.run_together(
            self._require(), [arrival, self.users.buyer_lookup(buyer)]
        )
        return arrival_from(row), _user_of(found)

    def receive_many(
        self, arriving: Sequence[tuple[Arriving, Buyer | None]], now: datetime
    ) -> list[tuple[Arrival, User | None]]:
        """`receive` of a batch's deliveries of distinct events: one inbox statement for all,
        sent with one lookup of every buyer (and BEGIN, on PostgreSQL) in one round trip."""
        buyers = [buyer for _, buyer in arriving if buyer is not None]
        statements = [self.inbox.arrivals([delivery for delivery, _ in arriving], now)]
        if buyers:
            statements.append(self.users.buyers_lookup(buyers))
        rows, *found = pipeline.run_together(self._require(), statements)
        arrivals = {row["id"]: arrival_from(row) for row in rows}
        users = iter(buyers_found(buyers, found[0]) if buyers else [])
        return [
            (arrivals[delivery.event_id], None if buyer is None else next(users))
            for delivery, buyer in arriving
        ]

    def insert_or_lock_purchase(
        self, new: NewPurchase, now: datetime, wallet_of: str | None
    ) -> tuple[Purchase, bool, WalletState | None]:
        """The payment's purchase, inserted as `new` unless one names the payment, locked
        either way, and whether it was inserted; with the wallet `wallet_of` loaded after it
        (when inserted: a new purchase has no lot and no entry under its keys yet). One round
        trip on PostgreSQL, in the lock order of every purchase event: purchase, then wallet.
        The row comes from the lock alone: the insert says only whether it inserted (the lock
        then finds that row, the only one naming the payment: both ids are unique)."""
        statements = [
            self.purchases.insertion(new, now),
            self.purchases.locking(new.checkout_session_id, new.payment_intent_id),
        ]
        if wallet_of is not None:
            statements += self.wallets.loading(wallet_of, now=now)
        inserted, locked, *wallet = pipeline.run_together(self._require(), statements)
        if not locked:  # pragma: no cover - the insert or an earlier one made it
            raise LookupError(f"no purchase for {new.checkout_session_id}")
        purchase = purchase_from(locked[0])
        if wallet_of is None or not inserted:
            return purchase, bool(inserted), None
        return purchase, True, self.wallets.loaded(wallet_of, None, wallet)

    def insert_or_lock_purchases(
        self, new: Sequence[NewPurchase], named: Sequence[str], now: datetime
    ) -> tuple[list[Purchase], list[bool]]:
        """`insert_or_lock_purchase` for a batch's distinct payments, in one round trip (the
        writes left for later go first in it): every row naming an id of `named`, locked in id
        order, and whether each of `new` was inserted (repositories/purchase_batches.py)."""
        return purchase_batches.insert_or_lock_many(self._require(), new, named, now)

    def store_paid(
        self,
        changes: Mapping[int, PurchaseChange],
        posted: Sequence[Posted],
        now: datetime,
        *,
        with_commit: bool,
    ) -> None:
        """Each purchase's change (`purchases.apply`) and the grants (`wallets.store_many`):
        on PostgreSQL in one round trip, or, `with_commit`, left for the COMMIT's."""
        connection = self._require()
        updates = purchase_batches.updating(changes, now)
        if connection.dialect.name != "postgresql":
            pipeline.run_together(connection, updates)
            wallet_batches.store_many(connection, posted)
            return
        statements = [*updates, *(wallet_batches.store_statements(posted) if posted else [])]
        if with_commit:
            for statement, params in statements:
                pipeline.write_later(connection, statement, params)
        elif statements:
            pipeline.run_together(connection, statements)

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """A step whose failure ends the transaction (rolled back on leaving the `with` block; no
        savepoint, no round trip): a lost connection in it is a 503 as anywhere else, never a
        failure of the step itself."""
        with _connection_failures_unavailable():
            yield

    def lock_identities(self, keys: Iterable[str]) -> None:
        """Serialise work on the same user id / e-mail across transactions (PostgreSQL).

        Without it, a payment from an unknown e-mail and that user's registration could commit
        side by side, each unaware of the other, leaving a pending grant nobody claims. Keys are
        locked in sorted order so two transactions never wait on each other in a cycle. SQLite
        needs nothing: BEGIN IMMEDIATE already serialises writers.
        """
        connection = self._require()
        if connection.dialect.name != "postgresql":
            return
        ordered = sorted(set(keys))
        if not ordered:
            return
        # One round trip for all keys; PostgreSQL evaluates a select list left to right.
        locks = ", ".join(f"pg_advisory_xact_lock(:k{i})" for i in range(len(ordered)))
        params = {f"k{i}": _lock_id(key) for i, key in enumerate(ordered)}
        connection.execute(text(f"SELECT {locks}"), params)

    @property
    def connection(self) -> Connection:
        """For read-only reports (the audit) that span every table."""
        return self._require()

    def _require(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self._connection


UnitOfWorkFactory = Callable[[], UnitOfWork]


def _user_of(found: pipeline.Rows) -> User | None:
    return user_from(found[0]) if found else None


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def _connection_failures_unavailable() -> Iterator[None]:
    """A lost connection becomes `DatabaseUnavailable` (503: Stripe retries); the rest passes."""
    try:
        yield
    except DBAPIError as exc:
        if _is_connection_failure(exc):
            raise _unavailable(exc) from exc
        raise


def _is_connection_failure(exc: DBAPIError) -> bool:
    """Failures a retry may cure: the server or file is gone, busy, or not migrated yet."""
    return exc.connection_invalidated or isinstance(exc, OperationalError) or _not_migrated(exc)


def _not_migrated(exc: BaseException) -> bool:
    # PostgreSQL: undefined_table (42P01); SQLite says it in words.
    return _sqlstate(exc) == "42P01" or "no such table" in str(getattr(exc, "orig", None))


# PostgreSQL's deadlock_detected and serialization_failure: the transaction lost a race and was
# rolled back; the same work retried at once can commit.
_CONTENTION = frozenset({"40P01", "40001"})


def _sqlstate(exc: BaseException) -> str | None:
    return getattr(getattr(exc, "orig", None), "sqlstate", None)


def _unavailable(exc: BaseException) -> DatabaseUnavailable:
    if _sqlstate(exc) in _CONTENTION:
        return Contention(f"transaction rolled back: {type(getattr(exc, 'orig', exc)).__name__}")
    if _not_migrated(exc):
        return DatabaseUnavailable("database is not migrated: run `creditflow migrate`")
    return DatabaseUnavailable(f"database unavailable: {type(exc).__name__}")
