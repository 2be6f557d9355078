"""The operations the scale benchmark times (over HTTP) and explains (in process).

Both lists name the same hot paths: balance reads, spends and grants on the heavy wallet (half of
all history) and on an ordinary one, ledger pages (first and deep, keyset), the heavy user's
purchases, re-registering the heavy user (pending claims by e-mail), the metrics gauges and
counters, a webhook purchase and the expiry run.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from bench.scale.seed import HEAVY, email_of, user_id
from creditflow.adapters.stripe import samples
from creditflow.bootstrap import Container
from creditflow.domain.statuses import PurchaseStatus
from creditflow.services.deliveries import Delivery

Call = Callable[[], object]


def http_operations(
    client: httpx.Client, users: int, entries: int, rng: random.Random
) -> dict[str, Callable[[], httpx.Response]]:
    """name -> one request; each answers 200 (the runner checks)."""

    def someone() -> str:
        return user_id(rng.randint(1, users))

    def spend(user: str) -> httpx.Response:
        body = {"credits": 1, "idempotency_key": uuid.uuid4().hex, "reason": "bench"}
        return client.post(f"/v1/wallets/{user}/spend", json=body)

    def grant(user: str) -> httpx.Response:
        body = {"credits": 1, "idempotency_key": uuid.uuid4().hex, "reason": "bench"}
        return client.post(f"/v1/wallets/{user}/grants", json=body)

    deep = max(entries // 2, 2)
    return {
        "balance heavy": lambda: client.get(f"/v1/wallets/{HEAVY}"),
        "balance random": lambda: client.get(f"/v1/wallets/{someone()}"),
        "spend heavy": lambda: spend(HEAVY),
        "spend random": lambda: spend(someone()),
        "grant heavy": lambda: grant(HEAVY),
        "grant random": lambda: grant(someone()),
        "ledger page heavy": lambda: client.get(f"/v1/wallets/{HEAVY}/ledger?limit=50"),
        "ledger deep page heavy": lambda: client.get(
            f"/v1/wallets/{HEAVY}/ledger?limit=50&before={deep}"
        ),
        "purchases of heavy": lambda: client.get(f"/v1/purchases?user_id={HEAVY}&limit=50"),
        "re-register heavy": lambda: client.put(
            f"/v1/users/{HEAVY}", json={"email": email_of(HEAVY)}
        ),
        "metrics scrape": lambda: client.get("/metrics"),
    }


def explained_operations(container: Container, users: int, entries: int) -> dict[str, Call]:
    """name -> one call through the services, as the routes (and the expiry task) make it."""
    wallets, queries = container.wallets, container.queries
    ordinary = user_id(max(users // 2, 1))
    key = uuid.uuid4().hex
    # A process's first scrape sums the whole ledger, once; every scrape after it reads only the
    # entries newer than its horizon. The hot path is the latter: the first is made here.
    container.ledger_totals.read()
    return {
        "balance": lambda: queries.wallet(HEAVY),
        "spend": lambda: wallets.spend(HEAVY, 1, f"{key}-s", "bench"),
        "spend retried": lambda: wallets.spend(HEAVY, 1, f"{key}-s", "bench"),
        "spend ordinary": lambda: wallets.spend(ordinary, 1, f"{key}-o", "bench"),
        "grant": lambda: wallets.grant(HEAVY, 1, f"{key}-g", "bench", None),
        "ledger page": lambda: queries.ledger(HEAVY, limit=50, before_id=None),
        "ledger deep page": lambda: queries.ledger(HEAVY, limit=50, before_id=max(entries // 2, 2)),
        "purchases of a user": lambda: queries.purchases(user_id=HEAVY, status=None, limit=50),
        "purchases by status": lambda: queries.purchases(
            user_id=None, status=PurchaseStatus.PAID, limit=50
        ),
        "re-register (pending claims)": lambda: container.users.register(HEAVY, email_of(HEAVY)),
        "metrics gauges": queries.backlog,
        "metrics counters": container.ledger_totals.read,
        "webhook purchase": lambda: container.deliveries.receive(_purchase(HEAVY)),
        "expiry run": container.expiry.expire_due,
    }


def _purchase(user: str) -> Delivery:
    event = samples.event(
        "checkout.session.completed", samples.checkout_session(user_id=user, credits=5)
    )
    payload: dict[str, Any] = event
    return Delivery(
        event_id=str(event["id"]),
        event_type=str(event["type"]),
        livemode=False,
        payload=json.dumps(payload),
        event=event,
        endpoint="bench",
    )
