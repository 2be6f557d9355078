"""The one-function peer's round trips for the same operations, counted by the same proxy: what
creditflow's counts sit beside (bench/peer/app.py; it has no grant route)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

from bench.peer.app import create_app
from bench.peer.database import fund_spend_users, peer_database, register_webhook_users
from bench.roundtrips.operations import OPERATIONS, Count, Step, tally_rounds
from bench.roundtrips.wire import CountingProxy, counting_proxy
from bench.webhook.databases import POSTGRES_SERVER
from bench.webhook.payments import WEBHOOK_SECRET, new_payment, signed
from creditflow.settings import WEBHOOK_PATH


def count_peer_round_trips(rounds: int) -> list[Count]:
    server = make_url(POSTGRES_SERVER)
    with (
        peer_database("peer_round_trips") as conninfo,
        counting_proxy(server.host or "127.0.0.1", server.port or 5432) as proxy,
    ):
        register_webhook_users(conninfo, 1)
        fund_spend_users(conninfo, 1, 10**9)
        proxied = make_url(conninfo).set(host="127.0.0.1", port=proxy.port)
        os.environ["PEER_DATABASE_URL"] = proxied.render_as_string(hide_password=False)
        os.environ["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
        return asyncio.run(_count(proxy, rounds))


async def _count(proxy: CountingProxy, rounds: int) -> list[Count]:
    app = create_app()
    counts = [Count(operation) for operation in OPERATIONS[:3]]  # no grants in the peer
    # The peer opens its pool in its lifespan, which httpx's ASGI transport does not run.
    async with app.router.lifespan_context(app), _client(app) as client:
        await tally_rounds(proxy, counts, rounds, lambda round_: _round(client, round_))
    return counts


def _round(client: httpx.AsyncClient, number: int) -> list[Step]:
    payment = new_payment(0, body_shape="compact")
    headers = {"Content-Type": "application/json", "Stripe-Signature": signed(payment.body)}
    spend = {"credits": 1, "idempotency_key": f"rt-{number}", "reason": "bench"}

    async def post(path: str, expected: str, **kwargs: Any) -> None:
        response = await client.post(path, **kwargs)
        if response.status_code != 200 or response.json()["status"] != expected:
            raise RuntimeError(f"peer {path}: {response.status_code} {response.text}")

    return [
        lambda: post(WEBHOOK_PATH, "granted", content=payment.body, headers=headers),
        lambda: post(WEBHOOK_PATH, "duplicate", content=payment.body, headers=headers),
        lambda: post("/v1/wallets/u1/spend", "spent", json=spend),
    ]


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://peer")
