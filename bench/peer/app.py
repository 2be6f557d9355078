"""The one-function peer: the earlier app's design, which creditflow is measured against.

A Starlette app, served by uvicorn with 1 worker (`uvicorn --factory bench.peer.app:create_app`).
The webhook verifies the signature with the official `stripe` SDK (`Webhook.construct_event`) and,
for a paid `checkout.session.completed`, makes one call, `peer_fulfil(...)` (bench/peer/schema.sql):
the purchase once per session, the wallet credited, the credits parked when no user matches. A
spend is one call too, `peer_spend(...)`: idempotent by key, never below zero. Each call runs on
a psycopg pool of 8 to 16 connections from the thread pool, in a transaction of its own (BEGIN,
the call, COMMIT, as psycopg runs a statement outside autocommit): as the earlier app did.

Configured by its environment: PEER_DATABASE_URL (libpq), STRIPE_WEBHOOK_SECRET,
PEER_WEBHOOK_TOLERANCE (seconds, default 300), PEER_API_KEY (when set, spends need it as a
Bearer token). Answers carry `"status"`, as creditflow's do, so the bench's wrk script counts
outcomes alike.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import stripe
from psycopg_pool import ConnectionPool
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

POOL_MIN, POOL_MAX = 8, 16


def create_app() -> Starlette:
    secret = os.environ["STRIPE_WEBHOOK_SECRET"]
    tolerance = int(os.environ.get("PEER_WEBHOOK_TOLERANCE", "300"))
    api_key = os.environ.get("PEER_API_KEY", "")
    pool = ConnectionPool(
        os.environ["PEER_DATABASE_URL"], min_size=POOL_MIN, max_size=POOL_MAX, open=False
    )

    def call(sql: str, args: tuple[Any, ...]) -> str:
        with pool.connection() as connection:
            row = connection.execute(sql, args).fetchone()
        assert row is not None, "a function call returns one row"
        return str(row[0])

    async def webhook(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            event = stripe.Webhook.construct_event(
                body, request.headers.get("stripe-signature", ""), secret, tolerance
            )
        except (ValueError, stripe.SignatureVerificationError):
            return JSONResponse({"status": "refused"}, status_code=400)
        session = event["data"]["object"].to_dict()  # the SDK's objects are not dicts
        if event["type"] != "checkout.session.completed" or session["payment_status"] != "paid":
            return JSONResponse({"status": "ignored"})
        email = (session.get("customer_details") or {}).get("email")
        credits = int((session.get("metadata") or {}).get("credits", 0))
        buyer = (session.get("client_reference_id"), email)
        args = (
            session["id"],
            *buyer,
            credits,
            session.get("amount_total"),
            session.get("currency"),
        )
        status = await run_in_threadpool(call, "SELECT peer_fulfil(%s, %s, %s, %s, %s, %s)", args)
        return JSONResponse({"status": status})

    async def spend(request: Request) -> JSONResponse:
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        if api_key and not hmac.compare_digest(given, api_key):
            return JSONResponse({"status": "unauthorized"}, status_code=401)
        body = await request.json()
        args = (request.path_params["user"], int(body["credits"]), str(body["idempotency_key"]))
        try:
            status = await run_in_threadpool(call, "SELECT peer_spend(%s, %s, %s)", args)
        except psycopg.errors.RaiseException:
            return JSONResponse({"status": "insufficient credits"}, status_code=402)
        return JSONResponse({"status": status})

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        pool.open(wait=True)
        try:
            yield
        finally:
            pool.close()

    return Starlette(
        routes=[
            Route("/api/stripe/webhook", webhook, methods=["POST"]),
            Route("/v1/wallets/{user}/spend", spend, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
