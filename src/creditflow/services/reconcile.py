"""Heal missed webhooks: ask Stripe which events happened and process the ones the inbox lacks.

Webhooks get lost (an endpoint down for days, a wrong secret, the wrong URL). Stripe's Events API
keeps 30 days of them. Each listed event the inbox does not have goes through the very path a
webhook takes (`DeliveryService.receive`: stored, processed in one transaction, once), so running
this any number of times, or while live deliveries arrive, grants nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from creditflow.domain.statuses import DeliveryStatus
from creditflow.errors import StripeUnavailable
from creditflow.services.clock import Clock
from creditflow.services.deliveries import Delivery, DeliveryResult
from creditflow.services.unit_of_work import UnitOfWorkFactory

RECONCILE_ENDPOINT = "reconcile"  # what the inbox row says it arrived through
EVENTS_KEPT = timedelta(days=30)  # how far back Stripe's Events API lists
BATCH = 200


class EventSource(Protocol):
    def events(
        self, types: Iterable[str], *, since: datetime, until: datetime | None = None
    ) -> Iterator[dict[str, Any]]: ...


class Receiver(Protocol):
    def receive(self, delivery: Delivery) -> DeliveryResult: ...


@dataclass
class ReconcileReport:
    since: datetime
    until: datetime | None
    dry_run: bool
    seen: int = 0
    already_had: int = 0
    processed: int = 0  # newly fulfilled (or newly applied, for refunds and disputes)
    needs_attention: int = 0
    failed: int = 0
    unchanged: int = 0  # new to the inbox, but nothing to do: ignored, or news already known
    missing: list[str] = field(default_factory=list)  # event ids the inbox lacked

    def count(self, status: DeliveryStatus) -> None:
        if status is DeliveryStatus.PROCESSED:
            self.processed += 1
        elif status is DeliveryStatus.NEEDS_ATTENTION:
            self.needs_attention += 1
        elif status is DeliveryStatus.FAILED:
            self.failed += 1
        else:
            self.unchanged += 1


class Reconciler:
    def __init__(
        self,
        source: EventSource,
        receiver: Receiver,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        event_types: Iterable[str],
    ) -> None:
        self._source = source
        self._receiver = receiver
        self._uow = uow_factory
        self._clock = clock
        self._types = tuple(event_types)

    def earliest(self) -> datetime:
        return self._clock() - EVENTS_KEPT

    def run(
        self,
        since: datetime,
        until: datetime | None = None,
        *,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> ReconcileReport:
        """`progress(done, total)` after each event; oldest events are processed first."""
        since = max(since, self.earliest())
        report = ReconcileReport(since=since, until=until, dry_run=dry_run)
        listed = sorted(
            self._source.events(self._types, since=since, until=until),
            key=lambda event: (event.get("created") or 0, str(event.get("id"))),
        )
        report.seen = len(listed)
        for start in range(0, len(listed), BATCH):
            batch = listed[start : start + BATCH]
            with self._uow() as uow:
                known = uow.inbox.known([str(event["id"]) for event in batch])
            for done, event in enumerate(batch, start=start + 1):
                if event["id"] in known:
                    report.already_had += 1
                else:
                    report.missing.append(str(event["id"]))
                    if not dry_run:
                        self._receive(event, report)
                if progress is not None:
                    progress(done, report.seen)
        return report

    def _receive(self, event: Mapping[str, Any], report: ReconcileReport) -> None:
        delivery = Delivery(
            event_id=str(event["id"]),
            event_type=str(event["type"]),
            livemode=bool(event.get("livemode", False)),
            payload=json.dumps(event, separators=(",", ":")),
            event=event,
            endpoint=RECONCILE_ENDPOINT,
        )
        try:
            result = self._receiver.receive(delivery)
        except StripeUnavailable:
            report.failed += 1  # stored as failed; the next run or Stripe's retry processes it
            return
        if result.redelivered:
            report.already_had += 1  # a live webhook stored it meanwhile
            report.missing.remove(delivery.event_id)
        else:
            report.count(result.status)
