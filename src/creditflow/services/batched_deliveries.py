"""Webhook deliveries through group commit (services/group_commit.py), for an async edge.

A delivery is read per request (`interpret_offline`: pure, on the event loop; only an event that
needs Stripe's API is read in a thread), then submitted. A batch is one unit of work, committed
once: its inbox rows stored together, then, in arrival order, consecutive deliveries of the
common case (paid payments for registered users, and their duplicates) settled set-based
(services/batched_payments.py), every other one stored and processed as `DeliveryService` does
alone, in the batch's transaction; so a redelivery sees its original, and
`checkout.session.async_payment_succeeded` the `completed` before it, in the same batch.

A delivery whose processing fails (needs attention, a bug), or that turns out not to be the
common case once its purchase is locked, ends the transaction: there is no savepoint, so the
batch is rolled back, the others retried without it, and it runs alone through
`DeliveryService.receive_interpreted`, recorded with exactly its unbatched outcome. A paid event
no rule prices (the usual needs attention) is known from its reading, before any write: it runs
alone from the start rather than failing a batch (docs/design.md). A set-based settling that
fails with an error naming nobody (its store, a bug) runs the batch again, each delivery on its
own path.

Lock order: the common case locks its purchases in id order, then its wallets in user id order,
so two lanes' or processes' batches of it never wait on each other in a cycle; the other
deliveries lock purchase, then wallet, in arrival order, and may deadlock with another batch:
PostgreSQL rolls one back, and that batch is retried in halves (`Contention`), each delivery
still answered once, from the transaction that committed it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextvars import Context, copy_context
from dataclasses import dataclass, field

from creditflow.domain.payments import Interpretation, PaymentEvent, PaymentSignal
from creditflow.domain.subscriptions import InvoiceEvent, InvoiceSignal
from creditflow.errors import DatabaseUnavailable
from creditflow.services.batched_payments import PaidDelivery, paid_delivery
from creditflow.services.deliveries import (
    Arrived,
    Delivery,
    DeliveryResult,
    DeliveryService,
    Outcome,
)
from creditflow.services.group_commit import DEFAULT_MAX_BATCH, Batcher, Broke
from creditflow.services.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadDelivery:
    """A delivery and what its event says (or the failure reading it), ready to be stored.
    `context`: its request's context variables (request and event ids for the logs), which the
    batch's thread runs its processing in."""

    delivery: Delivery
    interpretation: Interpretation | Outcome
    context: Context = field(default_factory=copy_context, compare=False)


class DeliveryBatcher(Batcher[ReadDelivery, DeliveryResult]):
    """Deliveries; results are `DeliveryService.receive`'s, errors (StripeUnavailable,
    DatabaseUnavailable) raised to the caller. A lone delivery takes today's path, its round
    trips and all (tests/bench/test_round_trips.py)."""

    lone_runs_alone = True

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        deliveries: DeliveryService,
        max_batch: int = DEFAULT_MAX_BATCH,
        lanes: int = 1,
        *,
        set_based: bool = True,
    ) -> None:
        super().__init__(max_batch, lanes)
        self._uow = uow_factory
        self._deliveries = deliveries
        self._set_based = set_based  # False: every delivery on its own path (benchmarks)
        # Batches whose set-based settling failed (its store, a bug) and that were run again
        # whole, each delivery on its own path: for tests and benchmarks.
        self.set_based_failures = 0

    def committed(self, ops: Sequence[ReadDelivery]) -> list[DeliveryResult | Exception]:
        """The batch, its common case settled together; if that fails with an error that names
        no delivery, the batch again, in a fresh transaction, each delivery settled on its own
        path as before there was a common case (so each gets its unbatched outcome)."""
        if not self._set_based:
            return self._committed(ops, together=False)
        try:
            return self._committed(ops, together=True)
        except (Broke, DatabaseUnavailable):
            raise
        except Exception:
            log.exception("settling a batch of %d deliveries together failed", len(ops))
            self.set_based_failures += 1
            return self._committed(ops, together=False)

    def _committed(
        self, ops: Sequence[ReadDelivery], *, together: bool
    ) -> list[DeliveryResult | Exception]:
        with self._uow() as uow:
            batch = [(op.delivery, op.interpretation) for op in ops]
            arrived = self._deliveries.arrive_together(uow, batch)
            settled: list[DeliveryResult | None] = [None] * len(ops)
            paid: list[tuple[int, PaidDelivery]] = []  # the common case, settled together
            for index, op in enumerate(ops):
                common = _common(op, arrived[index]) if together else None
                if common is not None:
                    paid.append((index, common))
                    continue
                if not _redelivered(arrived[index]):  # which changes nothing, reads nothing
                    self._settle_paid(uow, paid, settled, last=False)  # they came first
                result = op.context.run(
                    self._deliveries.settle_in, uow, op.delivery, op.interpretation, arrived[index]
                )
                if result is None:
                    raise Broke(index, RuntimeError(f"processing {op.delivery.event_id} failed"))
                settled[index] = result
            self._settle_paid(uow, paid, settled, last=True)
            uow.commit()
        return [self._answer(op, result) for op, result in zip(ops, _all(settled), strict=True)]

    def _settle_paid(
        self,
        uow: UnitOfWork,
        paid: list[tuple[int, PaidDelivery]],
        settled: list[DeliveryResult | None],
        *,
        last: bool,
    ) -> None:
        """The common-case deliveries waiting in `paid`, settled together (then forgotten)."""
        if not paid:
            return
        results = self._deliveries.settle_paid_in(uow, [d for _, d in paid], last=last)
        if isinstance(results, int):
            index, delivery = paid[results]
            raise Broke(index, RuntimeError(f"{delivery.event_id} is not the common case"))
        for (index, _), result in zip(paid, results, strict=True):
            settled[index] = result
        paid.clear()

    def alone(self, op: ReadDelivery) -> DeliveryResult | Exception:
        try:
            return op.context.run(
                self._deliveries.receive_interpreted, op.delivery, op.interpretation
            )
        except Exception as exc:
            return exc

    def runs_alone(self, op: ReadDelivery) -> bool:
        return needs_attention_expected(op.interpretation)

    def _answer(self, op: ReadDelivery, result: DeliveryResult) -> DeliveryResult | Exception:
        try:
            return op.context.run(self._deliveries.settled, op.delivery, op.interpretation, result)
        except Exception as exc:
            return exc


def _common(op: ReadDelivery, arrived: Arrived | None) -> PaidDelivery | None:
    """The delivery as the common case, stored by `arrive_together` (not a redelivery of a
    settled event, nor a second delivery of an event of the batch: those go their own way)."""
    if arrived is None or _redelivered(arrived):
        return None
    return paid_delivery(op.delivery.event_id, op.interpretation, arrived[1])


def _redelivered(arrived: Arrived | None) -> bool:
    return arrived is not None and arrived[0]


def _all(settled: Sequence[DeliveryResult | None]) -> list[DeliveryResult]:
    assert all(result is not None for result in settled)
    return [result for result in settled if result is not None]


def needs_attention_expected(interpretation: Interpretation | Outcome) -> bool:
    """A paid event that no rule prices: unless its purchase was credited already, processing
    it raises NeedsAttention (domain/purchase.py, domain/invoice_purchase.py)."""
    if isinstance(interpretation, PaymentEvent):
        return interpretation.signal is PaymentSignal.PAID and interpretation.credits is None
    if isinstance(interpretation, InvoiceEvent):
        return interpretation.signal is InvoiceSignal.PAID and interpretation.credits is None
    return False


class BatchedDeliveries:
    """The webhook's service with group commit: `await receive(delivery)`, answered as
    `DeliveryService.receive` answers, once the delivery's batch has committed."""

    def __init__(self, deliveries: DeliveryService, batcher: DeliveryBatcher) -> None:
        self._deliveries = deliveries
        self.batcher = batcher

    async def receive(self, delivery: Delivery) -> DeliveryResult:
        interpretation = self._deliveries.interpret_offline(delivery.event)
        if interpretation is None:  # it reads line items or prices from Stripe: not here
            interpretation = await asyncio.to_thread(self._deliveries.interpret, delivery.event)
        return await self.batcher.submit(ReadDelivery(delivery, interpretation))

    async def close(self) -> None:
        await self.batcher.close()
