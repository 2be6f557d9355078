"""What the services report as they work: a port, so neither they nor the domain know Prometheus.

The HTTP app plugs its metrics in (entrypoints/http/metrics.py); the CLI, which exposes no
metrics, keeps the default `NO_OBSERVER`. Reports are made after the transaction commits, so an
observer only ever counts what really happened. Credits granted and spent are not reported: the
metrics read them from the ledger (services/ledger_totals.py), which holds every process's.
"""

from __future__ import annotations

from typing import Protocol

from creditflow.domain.statuses import DeliveryStatus


class Observer(Protocol):
    def delivery_settled(self, event_type: str, status: DeliveryStatus) -> None:
        """A webhook delivery was stored with this outcome (a settled event redelivered:
        `duplicate`)."""

    def spend_refused(self, reason: str) -> None:
        """A spend was refused for `reason` (an error code), nothing moved."""


class _NoObserver:
    def delivery_settled(self, event_type: str, status: DeliveryStatus) -> None:
        pass

    def spend_refused(self, reason: str) -> None:
        pass


NO_OBSERVER: Observer = _NoObserver()
