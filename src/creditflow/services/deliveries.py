"""Receive a verified webhook delivery: store it, process it, record the outcome, one transaction.

The inbox row is inserted first, or counted in the same statement when the event is stored
already; a redelivery of a settled event (same id: Stripe retrying, or the same event sent to two
endpoints) changes nothing else. A failed one is processed again.
Processing runs in the delivery's transaction, with no savepoint (two round trips fewer on
PostgreSQL). When it fails (a payment that needs attention, or a bug), the transaction is rolled
back with all its writes, and the delivery is stored again with that outcome in a fresh one:
what the savepoint gave, paid only by the deliveries that fail.

Failures travel as an `Outcome`, never as exception instances: `_failed` is the one place an
exception raised while reading or applying an event becomes one.

With group commit (services/batched_deliveries.py), deliveries that arrive together are stored
and processed one after another in one shared transaction (`settle_in`), and a delivery whose
processing fails is run alone, through `receive_interpreted`, exactly as here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from creditflow.domain import purchase
from creditflow.domain.buyers import Buyer
from creditflow.domain.deliveries import Arrival, Arriving
from creditflow.domain.money_back import RefundPolicy
from creditflow.domain.payment_batch import OwnPath
from creditflow.domain.payments import IgnoredEvent, Interpretation, MoneyBack, PaymentEvent
from creditflow.domain.statuses import DeliveryStatus
from creditflow.domain.subscriptions import (
    DEFAULT_GRACE,
    InvoiceEvent,
    InvoicePaymentPaid,
    SubscriptionChanged,
    SubscriptionCheckout,
)
from creditflow.domain.users import User
from creditflow.errors import DatabaseUnavailable, NeedsAttention, NotFound, StripeUnavailable
from creditflow.services.batched_payments import PaidDelivery, settle_paid
from creditflow.services.clock import Clock
from creditflow.services.observer import NO_OBSERVER, Observer
from creditflow.services.purchases import BuyerFound, apply_money_back, apply_payment
from creditflow.services.subscriptions import (
    apply_invoice,
    apply_invoice_payment,
    apply_subscription_change,
    apply_subscription_checkout,
)
from creditflow.services.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

# A delivery stored (or counted): whether it is a redelivery of a settled event, and the user
# its buyer names (when asked).
Arrived = tuple[bool, BuyerFound | None]


@dataclass(frozen=True)
class Outcome:
    """What processing a delivery came to, as recorded on its inbox row. `retry_later`: Stripe
    could not be read; stored as failed, and answered 503 so Stripe retries it soon."""

    status: DeliveryStatus
    error: str | None = None
    retry_later: bool = False


@dataclass(frozen=True)
class _Undone:
    """Applying the event failed: its transaction is rolled back, then `outcome` recorded."""

    outcome: Outcome


class StripeCallNeeded(Exception):
    """An offline interpreter met an event it can only read with Stripe's API."""


class EventInterpreter(Protocol):
    """Turns a provider's event into what the core acts on (may read line items from Stripe)."""

    def interpret(self, event: Mapping[str, Any]) -> Interpretation: ...

    def offline(self) -> EventInterpreter:
        """The same interpreter, raising `StripeCallNeeded` where it would call Stripe's API
        (pure, cheap: an event loop may run it)."""
        ...


@dataclass(frozen=True)
class Delivery:
    """A verified, parsed delivery; `payload` is the body exactly as received."""

    event_id: str
    event_type: str
    livemode: bool
    payload: str
    event: Mapping[str, Any]
    endpoint: str

    @property
    def arriving(self) -> Arriving:
        return Arriving(self.event_id, self.event_type, self.livemode, self.payload, self.endpoint)

    @classmethod
    def of(cls, event: Mapping[str, Any], payload: str, endpoint: str) -> Delivery:
        """The delivery of a verified `event` whose body was `payload`."""
        return cls(
            event_id=event["id"],
            event_type=event["type"],
            livemode=bool(event.get("livemode", False)),
            payload=payload,
            event=event,
            endpoint=endpoint,
        )


@dataclass(frozen=True)
class DeliveryResult:
    event_id: str
    status: DeliveryStatus
    error: str | None = None
    redelivered: bool = False


class DeliveryService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        interpreter: EventInterpreter,
        clock: Clock,
        refund_policy: RefundPolicy,
        observer: Observer = NO_OBSERVER,
        subscription_grace: timedelta = DEFAULT_GRACE,
    ) -> None:
        self._uow = uow_factory
        self._interpreter = interpreter
        self._clock = clock
        self._policy = refund_policy
        self._observer = observer
        self._grace = subscription_grace

    def receive(self, delivery: Delivery) -> DeliveryResult:
        return self.receive_interpreted(delivery, self.interpret(delivery.event))

    def receive_interpreted(
        self, delivery: Delivery, interpretation: Interpretation | Outcome
    ) -> DeliveryResult:
        """`receive`, its event read already (`interpret`): in a transaction of its own."""
        result = self._store_and_process(delivery, interpretation)
        return self.settled(delivery, interpretation, result)

    def settled(
        self, delivery: Delivery, interpretation: Interpretation | Outcome, result: DeliveryResult
    ) -> DeliveryResult:
        """The answer to a delivery whose transaction committed `result`: reported, and
        StripeUnavailable raised when Stripe could not be read (stored failed; 503)."""
        self._observer.delivery_settled(delivery.event_type, result.status)
        if isinstance(interpretation, Outcome) and interpretation.retry_later:
            raise StripeUnavailable(interpretation.error or "Stripe unavailable")
        return result

    def arrive_together(
        self, uow: UnitOfWork, batch: Sequence[tuple[Delivery, Interpretation | Outcome]]
    ) -> list[Arrived | None]:
        """Store (or count) a batch's deliveries in `uow`, each event's first in the batch in
        one statement for all, with their buyers' lookups: what `settle_in` takes as `arrived`.
        None for a later delivery of an event in the batch: it arrives in its turn, after the
        one before it was processed."""
        firsts: dict[str, int] = {}
        for index, (delivery, _) in enumerate(batch):
            firsts.setdefault(delivery.event_id, index)
        indices = list(firsts.values())
        arriving = [(batch[i][0].arriving, _buyer_to_find(batch[i][1])) for i in indices]
        arrivals = uow.receive_many(arriving, self._clock())
        arrived: list[Arrived | None] = [None] * len(batch)
        for i, (_, buyer), (arrival, user) in zip(indices, arriving, arrivals, strict=True):
            arrived[i] = _arrived(arrival, buyer, user)
        return arrived

    def settle_in(
        self,
        uow: UnitOfWork,
        delivery: Delivery,
        interpretation: Interpretation | Outcome,
        arrived: Arrived | None = None,
    ) -> DeliveryResult | None:
        """Store and process the delivery in `uow`'s transaction, the caller's to commit
        (`arrived`: stored already, by `arrive_together`); None when processing failed: the
        transaction must then be rolled back (services/batched_deliveries.py runs the
        delivery alone)."""
        settled = self._settle_in(uow, delivery, interpretation, arrived)
        return None if isinstance(settled, _Undone) else settled

    def settle_paid_in(
        self, uow: UnitOfWork, batch: Sequence[PaidDelivery], *, last: bool
    ) -> list[DeliveryResult] | int:
        """Settle the common case's deliveries together in `uow`'s transaction, the caller's
        to commit next if `last` (services/batched_payments.py); or the index of one that
        must run alone: the transaction must then be rolled back."""
        settled = settle_paid(uow, batch, self._clock(), self._policy, last=last)
        if isinstance(settled, OwnPath):
            log.info("delivery %s runs alone: %s", batch[settled.index].event_id, settled.why)
            return settled.index
        for delivery, status in zip(batch, settled, strict=True):
            log.info("delivery %s: %s", delivery.event_id, status.value)
        return [DeliveryResult(d.event_id, s) for d, s in zip(batch, settled, strict=True)]

    def _settle_in(
        self,
        uow: UnitOfWork,
        delivery: Delivery,
        interpretation: Interpretation | Outcome,
        arrived: Arrived | None = None,
    ) -> DeliveryResult | _Undone:
        if arrived is None:
            arrived = self._arrive(uow, delivery, _buyer_to_find(interpretation))
        settled, found = arrived
        if settled:
            return DeliveryResult(delivery.event_id, DeliveryStatus.DUPLICATE, redelivered=True)
        outcome = self._outcome(uow, interpretation, found)
        if isinstance(outcome, _Undone):
            return outcome
        return self._record(uow, delivery.event_id, outcome)

    def _store_and_process(
        self, delivery: Delivery, interpretation: Interpretation | Outcome
    ) -> DeliveryResult:
        with self._uow() as uow:
            settled = self._settle_in(uow, delivery, interpretation)
            if not isinstance(settled, _Undone):
                uow.commit()
                return settled
        # Rolled back, inbox row and all: stored again, with the failure, in a fresh transaction
        # (a concurrent delivery may have settled the event meanwhile: then it stays settled).
        with self._uow() as uow:
            again, _ = self._arrive(uow, delivery, None)
            if again:
                uow.commit()
                return DeliveryResult(delivery.event_id, DeliveryStatus.DUPLICATE, redelivered=True)
            result = self._record(uow, delivery.event_id, settled.outcome)
            uow.commit()
        return result

    def _arrive(self, uow: UnitOfWork, delivery: Delivery, buyer: Buyer | None) -> Arrived:
        """Store the delivery, or count it, and look up the `buyer`'s user with it: whether
        this is a redelivery of a settled event, and the user found (when asked)."""
        arrival, user = uow.receive(
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            livemode=delivery.livemode,
            payload=delivery.payload,
            endpoint=delivery.endpoint,
            now=self._clock(),
            buyer=buyer,
        )
        return _arrived(arrival, buyer, user)

    def replay(self, event_id: str) -> DeliveryResult:
        """Process a stored delivery again, e.g. after the catalog was fixed. Idempotent."""
        with self._uow() as uow:
            stored = uow.inbox.get(event_id)
        if stored is None:
            raise NotFound(f"no stored delivery {event_id}")
        interpretation = self.interpret(json.loads(stored.payload))
        with self._uow() as uow:
            locked = uow.inbox.lock(event_id)
            # A replay that changes nothing keeps the settled outcome: the inbox goes on saying
            # which event granted the credits.
            keep = locked is not None and locked.status.is_settled
            outcome = self._outcome(uow, interpretation)
            if not isinstance(outcome, _Undone):
                result = self._record(uow, event_id, outcome, keep_if_duplicate=keep)
                uow.commit()
                return result
        with self._uow() as uow:  # rolled back: the failure recorded in a fresh transaction
            uow.inbox.lock(event_id)
            result = self._record(uow, event_id, outcome.outcome)
            uow.commit()
        return result

    def interpret(self, event: Mapping[str, Any]) -> Interpretation | Outcome:
        """What the event says; may call Stripe's API (line items, prices): blocking."""
        return _read(self._interpreter, event)

    def interpret_offline(self, event: Mapping[str, Any]) -> Interpretation | Outcome | None:
        """`interpret` without Stripe's API, so an event loop may run it: None when the event
        needs the API (then `interpret` it in a thread)."""
        try:
            return _read(self._interpreter.offline(), event)
        except StripeCallNeeded:
            return None

    def _record(
        self, uow: UnitOfWork, event_id: str, outcome: Outcome, *, keep_if_duplicate: bool = False
    ) -> DeliveryResult:
        status, error = outcome.status, outcome.error
        if not (keep_if_duplicate and status is DeliveryStatus.DUPLICATE):
            uow.inbox.record_outcome(event_id, status, error, self._clock())
        log.info("delivery %s: %s%s", event_id, status.value, f" ({error})" if error else "")
        return DeliveryResult(event_id, status, error)

    def _outcome(
        self,
        uow: UnitOfWork,
        interpretation: Interpretation | Outcome,
        found: BuyerFound | None = None,
    ) -> Outcome | _Undone:
        """What applying the event came to; `_Undone` when it failed part way, so its writes
        must be rolled back (on PostgreSQL the failed transaction takes no more statements)."""
        if isinstance(interpretation, Outcome):
            return interpretation
        if isinstance(interpretation, IgnoredEvent):
            return Outcome(DeliveryStatus.IGNORED, interpretation.reason)
        try:
            with uow.attempt():
                return Outcome(self._apply(uow, interpretation, found))
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            return _Undone(_failed(exc, "processing failed"))

    def _apply(
        self,
        uow: UnitOfWork,
        interpretation: (
            PaymentEvent
            | MoneyBack
            | InvoiceEvent
            | InvoicePaymentPaid
            | SubscriptionCheckout
            | SubscriptionChanged
        ),
        found: BuyerFound | None,
    ) -> DeliveryStatus:
        now = self._clock()
        if isinstance(interpretation, PaymentEvent):
            return apply_payment(uow, interpretation, now, self._policy, found)
        if isinstance(interpretation, InvoiceEvent):
            return apply_invoice(uow, interpretation, now, self._grace, self._policy)
        if isinstance(interpretation, InvoicePaymentPaid):
            return apply_invoice_payment(uow, interpretation, now)
        if isinstance(interpretation, SubscriptionCheckout):
            return apply_subscription_checkout(uow, interpretation, now)
        if isinstance(interpretation, SubscriptionChanged):
            return apply_subscription_change(uow, interpretation, now)
        return apply_money_back(uow, interpretation, now, self._policy)


def _arrived(arrival: Arrival, buyer: Buyer | None, user: User | None) -> Arrived:
    found = None if buyer is None else BuyerFound(None if user is None else user.id)
    return not arrival.first and arrival.status.is_settled, found


def _read(interpreter: EventInterpreter, event: Mapping[str, Any]) -> Interpretation | Outcome:
    """Reading the event may fail; the delivery is still stored, with that failure on it."""
    try:
        return interpreter.interpret(event)
    except StripeCallNeeded:
        raise
    except Exception as exc:
        return _failed(exc, f"interpreting event {event.get('id')} failed")


def _buyer_to_find(interpretation: Interpretation | Outcome) -> Buyer | None:
    """The buyer whose user a payment needs, looked up with the delivery's first statement."""
    if isinstance(interpretation, PaymentEvent) and purchase.needs_recipient(interpretation):
        return interpretation.buyer
    return None


def _failed(exc: Exception, what: str) -> Outcome:
    """An exception raised reading or applying an event, as the outcome to record.

    A payment that needs attention waits for an operator; Stripe unavailable is retried soon;
    anything else is a bug meeting an input nobody foresaw: logged, the delivery kept as failed
    so Stripe's retry runs it again (its message is for operators only).
    """
    if isinstance(exc, NeedsAttention):
        return Outcome(DeliveryStatus.NEEDS_ATTENTION, exc.message)
    if isinstance(exc, StripeUnavailable):
        return Outcome(DeliveryStatus.FAILED, exc.message, retry_later=True)
    log.exception("%s", what)
    return Outcome(DeliveryStatus.FAILED, f"{type(exc).__name__}: {exc}")
