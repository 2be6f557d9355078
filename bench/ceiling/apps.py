"""The two servers of the experiment (uvicorn factories, named in bench/webhook/server.py).

Both verify the delivery with creditflow's own `verify_and_parse` and answer what creditflow
answers ({"status": "processed"} or "duplicate"), so `bench.webhook`'s checks apply unchanged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import psycopg
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from bench.bare_asgi import App, Receive, Scope, Send, answer, verified
from bench.ceiling.statement import FULFIL, parameters
from creditflow.domain.statuses import DeliveryStatus
from creditflow.entrypoints.http import create_app
from creditflow.services.deliveries import Delivery, DeliveryResult
from creditflow.settings import WEBHOOK_PATH, Settings

CONNECTIONS = 8  # per worker, as many as the load keeps busy


class OneStatementDeliveries:
    """Stands in for creditflow's DeliveryService: FULFIL in one transaction of its engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def receive(self, delivery: Delivery) -> DeliveryResult:
        values = parameters(delivery.event, delivery.payload, delivery.endpoint)
        with self._engine.connect() as connection, connection.begin():
            first, _granted = connection.exec_driver_sql(FULFIL, values).one()
        status = DeliveryStatus.PROCESSED if first else DeliveryStatus.DUPLICATE
        return DeliveryResult(delivery.event_id, status)


def creditflow_one_statement_app() -> FastAPI:
    """creditflow's app, request for request, but for the work of the delivery service."""
    app = create_app()
    container = app.state.container
    deliveries = OneStatementDeliveries(container.engine)
    app.state.container = dataclasses.replace(container, deliveries=deliveries)
    return app


def one_statement_app() -> App:
    """uvicorn, the signature check and FULFIL on async connections opened at start-up: no
    framework, no pool library, no transaction statements (autocommit: one round trip)."""
    settings = Settings()
    url = make_url(settings.database_url).set(drivername="postgresql").render_as_string(False)
    idle: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, url, idle)
            return
        if scope["method"] == "GET":  # the harness's readiness check (/healthz)
            await answer(send, 200, b'{"status":"ok"}')
            return
        delivery = await verified(scope, receive, send, settings)
        if delivery is None:
            return
        body, event = delivery
        values = parameters(event, body.decode("utf-8"), WEBHOOK_PATH)
        held = await idle.get()
        try:
            cursor = await held.execute(FULFIL, values)
            row = await cursor.fetchone()
        finally:
            idle.put_nowait(held)
        status = DeliveryStatus.PROCESSED if row and row[0] else DeliveryStatus.DUPLICATE
        await answer(send, 200, _reply(status))

    return app


def _reply(status: DeliveryStatus) -> bytes:
    """Compact, as creditflow's (the load script reads `"status":"..."`)."""
    return json.dumps({"status": status.value}, separators=(",", ":")).encode()


async def _lifespan(
    receive: Receive, send: Send, url: str, idle: asyncio.Queue[psycopg.AsyncConnection[Any]]
) -> None:
    """Open CONNECTIONS connections at start-up, close them at shutdown."""
    opened = []
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            for _ in range(CONNECTIONS):
                opened.append(await psycopg.AsyncConnection.connect(url, autocommit=True))
                idle.put_nowait(opened[-1])
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            for held in opened:
                await held.close()
            await send({"type": "lifespan.shutdown.complete"})
            return
