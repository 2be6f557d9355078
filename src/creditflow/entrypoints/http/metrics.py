"""Prometheus metrics: what creditflow counts, and `GET /metrics` to read them.

The webhook and refusal counters and the latency histogram belong to this process: with several
server processes each exposes its own and Prometheus adds them up across targets. The backlog
gauges and the grant and spend counters are read from the database when scraped (the counters
from the ledger, which holds what every process did, the CLI's included), so every process
reports the same, global, numbers. Each app has a registry of its own, never the library's
global one: tests build many apps in one process.

`Metrics` is the services' `Observer` (they report after each commit) plus what only the HTTP
layer sees: webhook requests refused before anything was stored, and how long each one took.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from prometheus_client import generate_latest as render
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.concurrency import run_in_threadpool

from creditflow.domain.holds import HoldTotals
from creditflow.domain.ledger_totals import LedgerTotals
from creditflow.domain.statuses import DeliveryStatus
from creditflow.entrypoints.http.auth import require_metrics_key
from creditflow.errors import (
    DatabaseUnavailable,
    InsufficientCredits,
    MalformedPayload,
    NotConfigured,
    PayloadTooLarge,
    SignatureInvalid,
    UnsupportedMediaType,
)
from creditflow.services.queries import Backlog

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
REFUSAL_REASONS = tuple(
    error.code
    for error in (
        SignatureInvalid,
        MalformedPayload,
        PayloadTooLarge,
        UnsupportedMediaType,
        NotConfigured,
    )
)


class Metrics:
    def __init__(self) -> None:
        # Without this every counter and the histogram also expose a `*_created` series (when
        # the process created them), doubling the series for nothing Prometheus uses. The switch
        # is process-wide in prometheus_client, not per registry: set here, when creditflow's
        # metrics are built, rather than at import. (The library leaves this function unannotated.)
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        registry = self.registry
        self.deliveries = Counter(
            "creditflow_webhook_deliveries",
            "Verified webhook deliveries, by Stripe event type and the outcome stored on them.",
            ["event_type", "outcome"],
            registry=registry,
        )
        self.refused = Counter(
            "creditflow_webhook_refused",
            "Webhook requests refused before anything was stored, by error code.",
            ["reason"],
            registry=registry,
        )
        self.webhook_seconds = Histogram(
            "creditflow_webhook_duration_seconds",
            "Time to answer a webhook request, from arrival to response (refused ones too).",
            registry=registry,
        )
        self.spends_refused = Counter(
            "creditflow_spends_refused", "Spends refused, by reason.", ["reason"], registry=registry
        )
        # Series that exist from the start read 0 instead of being absent until the first event.
        for reason in REFUSAL_REASONS:
            self.refused.labels(reason)
        self.spends_refused.labels(InsufficientCredits.code)

    def watch_database(
        self,
        backlog: Callable[[], Backlog],
        ledger_totals: Callable[[], LedgerTotals],
        hold_totals: Callable[[], HoldTotals],
    ) -> None:
        """Report what these read from the database at every scrape."""
        self.registry.register(DatabaseCollector(backlog, ledger_totals, hold_totals))

    def delivery_settled(self, event_type: str, status: DeliveryStatus) -> None:
        # Event types come from verified deliveries only: Stripe's own, bounded set of names.
        self.deliveries.labels(event_type, status.value).inc()

    def spend_refused(self, reason: str) -> None:
        self.spends_refused.labels(reason).inc()

    def webhook_refused(self, reason: str) -> None:
        self.refused.labels(reason).inc()


class DatabaseCollector:
    """Gauges and counters read from the database at scrape time, so they are global across
    processes. With the database down they are left out, counters included: a counter that read
    0 would look to Prometheus like a reset."""

    def __init__(
        self,
        backlog: Callable[[], Backlog],
        ledger_totals: Callable[[], LedgerTotals],
        hold_totals: Callable[[], HoldTotals],
    ) -> None:
        self._backlog = backlog
        self._ledger_totals = ledger_totals
        self._hold_totals = hold_totals

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "creditflow_database_up", "1 when the database answered this scrape's queries."
        )
        try:
            backlog = self._backlog()
            totals = self._ledger_totals()
            holds = self._hold_totals()
        except DatabaseUnavailable as exc:
            # The process's own counters are still worth scraping; the database's are absent.
            log.warning("metrics scrape without the database's series: %s", exc.message)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "creditflow_pending_grants",
            "Pending grants not claimed yet: paid for by a buyer who is not a user yet.",
            value=backlog.pending_grants,
        )
        yield GaugeMetricFamily(
            "creditflow_pending_grant_credits",
            "Credits held by those pending grants.",
            value=backlog.pending_credits,
        )
        yield GaugeMetricFamily(
            "creditflow_needs_attention_events",
            "Stored deliveries parked as needs_attention until an operator acts.",
            value=backlog.needs_attention,
        )
        yield from ledger_counters(totals)
        yield from hold_metrics(holds)


def hold_metrics(totals: HoldTotals) -> Iterable[Metric]:
    """From the holds table: global across processes, like the ledger's counters."""
    for name, what, value in (
        ("opened", "Holds opened.", totals.opened),
        ("captured", "Holds captured (their credits spent, in part or whole).", totals.captured),
        ("voided", "Holds voided (every credit released).", totals.voided),
        ("expired", "Holds past their expiry before a capture or void.", totals.expired),
    ):
        yield CounterMetricFamily(f"creditflow_holds_{name}", what, value=value)
    yield GaugeMetricFamily(
        "creditflow_credits_held",
        "Credits reserved by live holds: in balances, not available to spend.",
        value=totals.credits_held,
    )


def ledger_counters(totals: LedgerTotals) -> Iterable[Metric]:
    grants = CounterMetricFamily(
        "creditflow_grants",
        "Grants that put credits into a wallet: purchases (a pending grant once claimed) and "
        "promotional grants, made by any process (the CLI's too).",
        labels=["source"],
    )
    credits_granted = CounterMetricFamily(
        "creditflow_credits_granted", "Credits those grants put into wallets.", labels=["source"]
    )
    for source, tally in totals.grants_by_source().items():
        grants.add_metric([source], tally.entries)
        credits_granted.add_metric([source], tally.credits)
    yield grants
    yield credits_granted
    yield CounterMetricFamily(
        "creditflow_spends",
        "Spends that took credits, made by any process (a retry with the same idempotency key is "
        "not counted).",
        value=totals.spends.entries,
    )
    yield CounterMetricFamily(
        "creditflow_credits_spent", "Credits those spends took.", value=totals.spends.credits
    )


def app_metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


async def metrics_endpoint(request: Request) -> Response:
    """The Prometheus text format. Rendered in a worker thread: the collector reads the database."""
    body = await run_in_threadpool(render, app_metrics(request).registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def metrics_router() -> APIRouter:
    """For Prometheus, not for the app: left out of the OpenAPI document (see the README)."""
    router = APIRouter()
    router.add_api_route(
        METRICS_PATH,
        metrics_endpoint,
        methods=["GET"],
        response_class=Response,
        dependencies=[Depends(require_metrics_key)],
        include_in_schema=False,
    )
    return router
