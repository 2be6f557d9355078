"""The app factory: one app per configuration, nothing built at import time.

Each app has its own container and its own metrics registry; logging is configured by the process
that serves it (`creditflow serve`), not here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from creditflow import __version__
from creditflow.adapters.db import reconnect
from creditflow.bootstrap import Container, build_container
from creditflow.entrypoints.http import api, checkout, holds, subscriptions
from creditflow.entrypoints.http.console import console_router
from creditflow.entrypoints.http.docs import install_docs
from creditflow.entrypoints.http.errors import error_body, error_responses, install_error_handlers
from creditflow.entrypoints.http.metrics import Metrics, metrics_router
from creditflow.entrypoints.http.periodic import PeriodicTask
from creditflow.entrypoints.http.request_id import RequestIdMiddleware
from creditflow.entrypoints.http.schemas import HealthOut
from creditflow.entrypoints.http.webhook import webhook_router
from creditflow.services.clock import Clock, utc_now
from creditflow.settings import Settings


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = settings if settings is not None else Settings()
    metrics = Metrics()
    container = build_container(settings, clock=clock, observer=metrics)
    metrics.watch_database(
        container.queries.backlog, container.ledger_totals.read, container.holds.totals
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        expiring = PeriodicTask(container.expiry.expire_due, settings.expiry_interval_seconds)
        expiring.start()
        try:
            yield
        finally:
            expiring.stop()
            if container.batched_wallets is not None:
                await container.batched_wallets.close()
            if container.batched_deliveries is not None:
                await container.batched_deliveries.close()
            container.close()

    app = FastAPI(
        title="creditflow",
        version=__version__,
        summary="Stripe payments in, credits in wallets out, exactly once.",
        lifespan=lifespan,
        docs_url=None,  # served from the package by install_docs, not from a CDN
        redoc_url=None,
    )
    app.state.container = container
    app.state.metrics = metrics
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)
    app.include_router(webhook_router(legacy=settings.legacy_webhook))
    app.include_router(api.router)
    app.include_router(holds.router)
    app.include_router(subscriptions.router)
    app.include_router(metrics_router())
    app.include_router(checkout.router)
    install_docs(app)
    app.include_router(console_router(container))
    app.add_api_route(
        "/healthz",
        healthz,
        methods=["GET"],
        tags=["health"],
        response_model=HealthOut,
        responses=error_responses(503),
    )
    # Load balancers probe with HEAD: the same checks, the status without a body. Left out of
    # the document, which describes GET's body.
    app.add_api_route("/healthz", healthz_head, methods=["HEAD"], include_in_schema=False)
    return app


async def healthz(request: Request) -> JSONResponse:
    """200 while the database answers; 503 otherwise (for load balancers and `verify`)."""
    container: Container = request.app.state.container
    try:
        await run_in_threadpool(_ping, container)
    except SQLAlchemyError as exc:
        return JSONResponse(
            error_body("database_unavailable", f"database unavailable: {type(exc).__name__}"),
            status_code=503,
        )
    return JSONResponse({"status": "ok"})


async def healthz_head(request: Request) -> Response:
    return Response(status_code=(await healthz(request)).status_code)


def _ping(container: Container) -> None:
    # Like a transaction: a pooled connection the server closed is replaced, not reported.
    with reconnect.connect(container.engine) as connection:
        connection.execute(text("SELECT 1"))
