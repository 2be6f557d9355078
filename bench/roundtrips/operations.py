"""The four operations whose round trips are counted, each sent to creditflow's own app in-process.

The app is `create_app(settings)` (the one `creditflow serve` runs, FastAPI and all) behind
httpx's ASGI transport, so each operation is the real request: the webhook handler, or the /v1
route, the service, the unit of work and the pool. Its database URL points at the counting proxy
(bench/roundtrips/wire.py), so whatever crosses the wire is counted, however the code sends it.

Before counting, every operation runs WARMUP_ROUNDS times on the same pooled connection: the
pool has its connection (no startup), and psycopg has prepared each statement (it does so on a
statement's sixth run on a connection, which costs that run one more round trip, once).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bench.roundtrips.wire import CountingProxy, RoundTrip, Tally, counting_proxy
from bench.webhook import payments
from bench.webhook.databases import POSTGRES_SERVER, bench_settings, migrate, postgres_database
from creditflow.entrypoints.http import create_app
from creditflow.settings import WEBHOOK_PATH

API_KEY = "cf_bench_round_trips_0123456789"
WARMUP_ROUNDS = 7
USERS = 4
FUNDING = 1_000_000


@dataclass(frozen=True)
class Operation:
    name: str
    target: int | None  # issue 12's most round trips; None: counted, no target
    what: str


OPERATIONS = (
    Operation("new paid delivery", 4, "a new paid checkout.session.completed, registered buyer"),
    Operation("redelivery", 2, "the same event again (same body, same signature)"),
    Operation("spend", 3, "POST /v1/wallets/{id}/spend of 1 credit, a new key"),
    Operation("grant", None, "POST /v1/wallets/{id}/grants of 10 credits, a new key"),
)


@dataclass
class Count:
    """One operation's round trips in each counted round, and one round's SQL to read."""

    operation: Operation
    rounds: list[int] = field(default_factory=list)
    trips: list[RoundTrip] = field(default_factory=list)
    connections_opened: int = 0

    @property
    def most(self) -> int:
        return max(self.rounds)

    @property
    def over_target(self) -> bool:
        return self.operation.target is not None and self.most > self.operation.target

    def record(self, tally: Tally) -> None:
        self.rounds.append(len(tally.round_trips))
        self.trips = tally.round_trips
        self.connections_opened += tally.connections


Step = Callable[[], Awaitable[None]]


async def tally_rounds(
    proxy: CountingProxy, counts: list[Count], rounds: int, steps: Callable[[int], list[Step]]
) -> None:
    """Run `steps(round)` (one step per count, in order) WARMUP_ROUNDS + `rounds` times, each
    step's round trips counted apart; the warm-up rounds are not recorded."""
    for round_ in range(WARMUP_ROUNDS + rounds):
        for count, step in zip(counts, steps(round_), strict=True):
            proxy.take()
            await step()
            tally = proxy.take()
            if round_ >= WARMUP_ROUNDS:
                count.record(tally)


def count_round_trips(rounds: int) -> list[Count]:
    """Each operation `rounds` times, after the warm-up, on a fresh migrated database."""
    server = make_url(POSTGRES_SERVER)
    with (
        postgres_database("round_trips") as url,
        counting_proxy(server.host or "127.0.0.1", server.port or 5432) as proxy,
    ):
        migrate(url)
        proxied = make_url(url).set(host="127.0.0.1", port=proxy.port)
        settings = bench_settings(proxied.render_as_string(hide_password=False))
        settings = settings.model_copy(update={"api_key": SecretStr(API_KEY)})
        return asyncio.run(_count(create_app(settings), proxy, rounds))


async def _count(app: FastAPI, proxy: CountingProxy, rounds: int) -> list[Count]:
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    counts = [Count(operation) for operation in OPERATIONS]
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        driver = _Driver(client, headers)
        for user in range(USERS):
            await driver.register(user)
        await tally_rounds(proxy, counts, rounds, lambda round_: driver.round(round_ % USERS))
    app.state.container.close()
    return counts


class _Driver:
    """Sends the operations and checks each did what it should (a count of a failed request
    would mean nothing)."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self._client = client
        self._headers = headers
        self._keys = itertools.count()

    async def register(self, user: int) -> None:
        uid = payments.user_id(user)
        email = {"email": payments.user_email(user)}
        await self._expect(self._client.put(f"/v1/users/{uid}", json=email, headers=self._headers))
        await self._change(uid, "grants", FUNDING)

    def round(self, user: int) -> list[Step]:
        """A new payment of `user`, its redelivery, a spend and a grant, in OPERATIONS' order."""
        payment = payments.new_payment(user)
        signature = payments.signed(payment.body)
        uid = payments.user_id(user)

        async def deliver(outcome: str) -> None:
            response = await self._client.post(
                WEBHOOK_PATH,
                content=payment.body,
                headers={"Content-Type": "application/json", "Stripe-Signature": signature},
            )
            if response.status_code != 200 or response.json()["status"] != outcome:
                raise RuntimeError(f"{outcome}? {response.status_code}: {response.text}")

        return [
            lambda: deliver("processed"),
            lambda: deliver("duplicate"),
            lambda: self._change(uid, "spend", 1),
            lambda: self._change(uid, "grants", 10),
        ]

    async def _change(self, uid: str, route: str, credits: int) -> None:
        body = {"credits": credits, "idempotency_key": f"rt-{next(self._keys)}", "reason": "bench"}
        await self._expect(
            self._client.post(f"/v1/wallets/{uid}/{route}", json=body, headers=self._headers)
        )

    @staticmethod
    async def _expect(request: Awaitable[httpx.Response]) -> None:
        response = await request
        if not response.is_success:
            url, status = response.request.url, response.status_code
            raise RuntimeError(f"{url} answered {status}: {response.text}")
