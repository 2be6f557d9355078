"""The operator console's use cases: what it shows, and its two actions, each naming who and why.

The actions go through the same services as the API and the CLI: a grant is
`WalletOperations.grant` (idempotent by the key the form carried), a replay is
`DeliveryService.replay` (the path of `creditflow replay`, which never grants twice). The console
adds who did it: the operator's name goes into the grant's reason and reference, and every
replay leaves a note on the event (event_replays) with the operator, the reason and the outcome.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from creditflow.domain.buyers import normalize_email
from creditflow.domain.deliveries import StoredDelivery
from creditflow.domain.holds import Hold, HoldStatus, status_at
from creditflow.domain.operator_views import (
    HoldCursor,
    InboxCursor,
    InboxFilter,
    Refund,
    ReplayNote,
)
from creditflow.domain.pending import PendingGrant
from creditflow.domain.purchase_record import Purchase
from creditflow.domain.statuses import DeliveryStatus, PurchaseStatus
from creditflow.domain.users import User, Wallet
from creditflow.domain.wallet import LedgerEntry, Lot
from creditflow.errors import InvalidRequest, NotFound
from creditflow.services.clock import Clock
from creditflow.services.deliveries import DeliveryResult, DeliveryService
from creditflow.services.queries import Backlog, Queries
from creditflow.services.unit_of_work import ReportingUnitOfWorkFactory
from creditflow.services.wallet_operations import WalletChange, WalletOperations

MAX_OPERATOR_REASON = 300  # leaves room in the ledger's 500 for the operator's name
RECENT = timedelta(hours=24)
CLOSED_HOLDS_SHOWN = 10  # on a wallet's page, after its live holds; the holds list has the rest
T = TypeVar("T")


@dataclass(frozen=True)
class Overview:
    backlog: Backlog
    outcomes: dict[DeliveryStatus, int]  # received in the last 24 h, every status present
    active_holds: int  # live now: held and not past their expiry


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    more: bool  # another page follows; its cursor comes from the last item


@dataclass(frozen=True)
class PurchaseView:
    purchase: Purchase
    refunds: list[Refund]


@dataclass(frozen=True)
class HoldLine:
    hold: Hold
    status: HoldStatus  # as seen now: a held hold past its expiry is expired


@dataclass(frozen=True)
class WalletView:
    user: User
    wallet: Wallet
    held: int  # what its live holds reserve
    lots: Page[Lot]  # the first to expire; `more` when there are others
    ledger: Page[LedgerEntry]
    purchases: list[PurchaseView]
    # Live first (the first to expire first; `more` when there are others), then the newest
    # closed or lapsed ones.
    holds: Page[HoldLine]
    subscription_grants: list[Purchase]  # purchases of paid invoices, newest first

    @property
    def available(self) -> int:
        """What a spend or a new hold may use now (WalletState.available)."""
        return self.wallet.balance - self.held


@dataclass(frozen=True)
class EventView:
    delivery: StoredDelivery
    payload: str  # pretty-printed
    purchase: Purchase | None
    replays: list[ReplayNote]


class Console:
    def __init__(
        self,
        uow_factory: ReportingUnitOfWorkFactory,
        clock: Clock,
        queries: Queries,
        deliveries: DeliveryService,
        wallets: WalletOperations,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._queries = queries
        self._deliveries = deliveries
        self._wallets = wallets

    def overview(self) -> Overview:
        since = self._clock() - RECENT
        with self._uow() as uow:
            counted = uow.console.outcomes_since(since)
            active_holds = uow.console.live_holds_count(self._clock())
        outcomes = {status: counted.get(status, 0) for status in DeliveryStatus}
        return Overview(self._queries.backlog(), outcomes, active_holds)

    def inbox(
        self, where: InboxFilter, after: InboxCursor | None, limit: int
    ) -> Page[StoredDelivery]:
        with self._uow() as uow:
            found = uow.console.inbox_page(where, after, limit + 1)
        return Page(found[:limit], more=len(found) > limit)

    def event(self, event_id: str) -> EventView:
        delivery = self._queries.event(event_id)
        payload = json.loads(delivery.payload)
        session_id, intent_id = _payment_ids(payload)
        with self._uow() as uow:
            purchase = None
            if session_id or intent_id:
                purchase = uow.purchases.find(session_id, intent_id)
            replays = uow.console.replay_notes(event_id)
        pretty = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False)
        return EventView(delivery, pretty, purchase, replays)

    def find_wallet(self, text: str) -> str | None:
        """The user id for a user id or an e-mail (matched as registration matches it)."""
        text = text.strip()
        if not text:
            return None
        with self._uow() as uow:
            if uow.users.get(text) is not None:
                return text
            email_key = normalize_email(text)
            user = uow.users.find_by_email(email_key) if email_key else None
        return None if user is None else user.id

    def wallet(self, user_id: str, *, before_id: int | None, limit: int) -> WalletView:
        """Everything the page shows, read in one transaction (one connection, one BEGIN)."""
        now = self._clock()
        with self._uow() as uow:
            user, wallet = uow.users.get(user_id), uow.wallets.get(user_id)
            if user is None or wallet is None:
                raise NotFound(f"no user {user_id}")
            entries = uow.wallets.entries(user_id, limit=limit + 1, before_id=before_id)
            reads = uow.console
            held = uow.holds.live_total(user_id, now)
            lots = reads.open_lots(user_id, limit + 1)
            bought = reads.purchases_page(status=None, user_id=user_id, before_id=None, limit=limit)
            refunds = reads.refunds_of([purchase.id for purchase in bought])
            live = reads.live_holds(user_id, now, limit + 1)
            newest = reads.holds_page(
                status=None, user_id=user_id, after=None, now=now, limit=CLOSED_HOLDS_SHOWN
            )
            invoiced = reads.invoice_purchases(user_id, limit)
        views = [
            PurchaseView(p, [refund for refund in refunds if refund.purchase_id == p.id])
            for p in bought
        ]
        live_ids = {hold.id for hold in live}
        shown = [*live[:limit], *(hold for hold in newest if hold.id not in live_ids)]
        holds = Page([HoldLine(h, status_at(h, now)) for h in shown], more=len(live) > limit)
        return WalletView(
            user,
            wallet,
            held,
            Page(lots[:limit], len(lots) > limit),
            Page(entries[:limit], more=len(entries) > limit),
            views,
            holds,
            invoiced,
        )

    def purchases(
        self, status: PurchaseStatus | None, *, before_id: int | None, limit: int
    ) -> Page[Purchase]:
        with self._uow() as uow:
            found = uow.console.purchases_page(
                status=status, user_id=None, before_id=before_id, limit=limit + 1
            )
        return Page(found[:limit], more=len(found) > limit)

    def holds(
        self,
        status: HoldStatus | None,
        *,
        user_id: str | None,
        after: HoldCursor | None,
        limit: int,
    ) -> Page[HoldLine]:
        """Every wallet's holds (or `user_id`'s), newest first, by status as seen now."""
        now = self._clock()
        with self._uow() as uow:
            found = uow.console.holds_page(
                status=status, user_id=user_id, after=after, now=now, limit=limit + 1
            )
        lines = [HoldLine(hold, status_at(hold, now)) for hold in found[:limit]]
        return Page(lines, more=len(found) > limit)

    def pending_grants(self, *, after_id: int | None, limit: int) -> Page[PendingGrant]:
        with self._uow() as uow:
            found = uow.console.unclaimed_page(after_id=after_id, limit=limit + 1)
        return Page(found[:limit], more=len(found) > limit)

    def grant(
        self,
        operator: str,
        user_id: str,
        credits: int,
        *,
        form_key: str,
        reason: str,
        expires_at: datetime | None,
    ) -> WalletChange:
        """Credits by hand. `form_key` was minted when the form was shown: the same form sent
        twice is one request, so the second finds the first grant and changes nothing."""
        _check_reason(reason)
        return self._wallets.grant(
            user_id,
            credits,
            f"console:{operator}:{form_key}",
            f"{reason.strip()} (granted by {operator} in the console)",
            expires_at,
        )

    def replay(self, operator: str, event_id: str, reason: str) -> DeliveryResult:
        """`creditflow replay`, then a note of who asked and why, beside what came of it."""
        _check_reason(reason)
        result = self._deliveries.replay(event_id)
        note = ReplayNote(operator, reason.strip(), result.status, result.error, self._clock())
        with self._uow() as uow:
            uow.console.add_replay_note(event_id, note)
            uow.commit()
        return result


def _check_reason(reason: str) -> None:
    if not reason.strip() or len(reason) > MAX_OPERATOR_REASON:
        raise InvalidRequest(f"the reason must be 1 to {MAX_OPERATOR_REASON} characters")


def _payment_ids(event: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The Checkout Session and PaymentIntent an event names, whatever object it carries."""
    data = event.get("data")
    found = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(found, Mapping):
        return None, None
    kind, object_id = found.get("object"), _text(found.get("id"))
    intent = found.get("payment_intent")
    intent_id = _text(intent.get("id") if isinstance(intent, Mapping) else intent)
    if kind == "checkout.session":
        return object_id, intent_id
    if kind == "payment_intent":
        return None, object_id
    return None, intent_id


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
