"""Builders and checks shared by the tests: signed deliveries, API calls, database invariants."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import time
from collections.abc import Coroutine, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import stripe
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine, func, select, text

from creditflow.adapters.db.tables import ledger_entries, metadata, wallets
from creditflow.adapters.stripe import samples
from creditflow.adapters.stripe.client import DEFAULT_TIMEOUTS, Timeouts, make_client
from creditflow.adapters.stripe.gateway import StripeGateway
from creditflow.bootstrap import Container, build_container
from creditflow.services.audit import Finding
from creditflow.settings import WEBHOOK_PATH, Settings

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"
WEBHOOK_SECRET = "whsec_test_c2VjcmV0LWZvci10ZXN0cw"
OTHER_SECRET = "whsec_test_b3RoZXItZW5kcG9pbnQ"
API_KEY = "cf_test_api_key_0123456789"
PRICE = "price_1PgafmB7WZ01zgkW02Hf9z6c"  # the price of Stripe's example line item


T = TypeVar("T")


def fixture(name: str) -> dict[str, Any]:
    """One of Stripe's example objects or derived webhook bodies (see fixtures/stripe/README)."""
    return json.loads((FIXTURES / name).read_text())  # type: ignore[no-any-return]


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "webhook_secrets": (SecretStr(WEBHOOK_SECRET),),
        "api_key": SecretStr(API_KEY),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def server_environment(database_url: str) -> dict[str, str]:
    """What a server process needs in its environment to serve `database_url` to the tests."""
    return {
        "CREDITFLOW_DATABASE_URL": database_url,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CREDITFLOW_API_KEY": API_KEY,
    }


def catalog_toml(
    prices: dict[str, int] | None = None,
    links: dict[str, int] | None = None,
    packs: dict[str, str] | None = None,
) -> str:
    """The catalog format of the README, with packs (name -> price id) as the README describes."""
    lines = [f"[prices.{key}]\ncredits = {credits}\n" for key, credits in (prices or {}).items()]
    lines += [
        f"[payment_links.{key}]\ncredits = {credits}\n" for key, credits in (links or {}).items()
    ]
    lines += [f'[packs.{name}]\nprice = "{price}"\n' for name, price in (packs or {}).items()]
    return "\n".join(lines)


def stripe_gateway(
    base_url: str, api_key: str, *, timeouts: Timeouts = DEFAULT_TIMEOUTS, retries: int = 0
) -> StripeGateway:
    """The gateway creditflow builds, pointed at a local Stripe; no retries unless asked."""
    client = make_client(api_key, base_url, timeouts=timeouts, max_network_retries=retries)
    return StripeGateway(client)


def paid_session_event(**session: Any) -> dict[str, Any]:
    return samples.event("checkout.session.completed", samples.checkout_session(**session))


def derived_event(name: str, *, event_id: str | None = None, **session: Any) -> dict[str, Any]:
    """A body from fixtures/stripe/derived with fields of its Checkout Session replaced."""
    event = copy.deepcopy(fixture(f"derived/{name}"))
    if event_id is not None:
        event["id"] = event_id
    event["data"]["object"].update(session)
    return event


def paid_without_credits(**session: Any) -> dict[str, Any]:
    """A paid checkout whose credits only the catalog can tell (no `metadata.credits`)."""
    return derived_event("checkout_session_completed_paid.json", metadata={}, **session)


def session_id_of(event: dict[str, Any]) -> str:
    return str(event["data"]["object"]["id"])


def deliver(
    client: httpx.Client,
    event: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    path: str = WEBHOOK_PATH,
    timestamp: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """POST `event` as Stripe would: compact JSON body, signed with the real SDK."""
    body = samples.encode(event)
    header = samples.signature_header(body, secret, timestamp=timestamp)
    sent = {"Stripe-Signature": header, "Content-Type": "application/json", **(headers or {})}
    return client.post(path, content=body, headers=sent)


def sign_bytes(body: bytes, secret: str = WEBHOOK_SECRET, *, timestamp: int | None = None) -> str:
    """Stripe's v1 scheme (HMAC-SHA256 of `t.body`) over raw bytes, for bodies that are not UTF-8
    and so cannot go through the SDK's string-only signing helper."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def post_webhook(
    client: httpx.Client, body: Any, headers: dict[str, str], path: str = WEBHOOK_PATH
) -> httpx.Response:
    """POST raw `body` (bytes, or an iterator of chunks: sent chunked) with exactly `headers`."""
    return client.post(path, content=body, headers={"Content-Type": "application/json", **headers})


def error_of(response: httpx.Response) -> tuple[int, str]:
    """Status and the stable `error.code` of a JSON error response."""
    return response.status_code, response.json()["error"]["code"]


def assert_refused(
    client: httpx.Client,
    database_url: str,
    body: object,
    headers: dict[str, str],
    expected: tuple[int, str],
) -> None:
    """POST a webhook request that must be refused with `expected`, changing no table."""
    before = table_snapshot(database_url)
    response = post_webhook(client, body, headers)
    assert error_of(response) == expected, response.text
    assert table_snapshot(database_url) == before


def auth(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def register(client: httpx.Client, user_id: str, email: str | None = None) -> dict[str, Any]:
    response = client.put(f"/v1/users/{user_id}", json={"email": email}, headers=auth())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def register_all(url: str, user_ids: Iterable[str]) -> None:
    """Register every user through the server at `url`."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for user_id in user_ids:
            register(client, user_id)


def balance(client: httpx.Client, user_id: str) -> int:
    response = client.get(f"/v1/wallets/{user_id}", headers=auth())
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


def api_get(client: httpx.Client, path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers=auth())
    assert response.status_code == 200, response.text
    return response.json()


def purchases(client: httpx.Client, user_id: str | None = None) -> list[dict[str, Any]]:
    params = {} if user_id is None else {"user_id": user_id}
    return api_get(client, "/v1/purchases", **params)["purchases"]  # type: ignore[no-any-return]


def pending_grants(client: httpx.Client) -> list[dict[str, Any]]:
    return api_get(client, "/v1/pending-grants")["pending_grants"]  # type: ignore[no-any-return]


def ledger(client: httpx.Client, user_id: str) -> list[dict[str, Any]]:
    return api_get(client, f"/v1/wallets/{user_id}/ledger")["entries"]  # type: ignore[no-any-return]


def create_checkout(client: httpx.Client, user_id: str, **fields: Any) -> httpx.Response:
    """POST /v1/checkout-sessions; `fields` are price_id or pack, quantity, and any override."""
    body = {
        "user_id": user_id,
        "success_url": "https://app.example.com/paid?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.example.com/shop",
        **fields,
    }
    return client.post("/v1/checkout-sessions", json=body, headers=auth())


def fulfil(client: httpx.Client, session_id: str) -> httpx.Response:
    return client.post(f"/v1/checkout-sessions/{session_id}/fulfil", headers=auth())


def stored_event(client: httpx.Client, event_id: str) -> dict[str, Any]:
    return api_get(client, f"/v1/events/{event_id}")  # type: ignore[no-any-return]


def replay(client: httpx.Client, event_id: str) -> dict[str, Any]:
    response = client.post(f"/v1/events/{event_id}/replay", headers=auth())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def table_snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that a refused request changed nothing."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        snapshot = {
            table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
            for table in metadata.sorted_tables
        }
    engine.dispose()
    return snapshot


def assert_audit_clean(findings: list[Finding]) -> None:
    """`creditflow audit` over the whole database: every invariant holds."""
    broken = {finding.invariant: finding.breaches for finding in findings if not finding.holds}
    assert broken == {}, f"invariants broken: {broken}"


def assert_ledger_matches_balances(database_url: str) -> None:
    """The invariant: each wallet's balance is the sum of its entries, and matches the last one."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        sums = dict(
            connection.execute(
                select(ledger_entries.c.user_id, func.sum(ledger_entries.c.delta)).group_by(
                    ledger_entries.c.user_id
                )
            ).all()
        )
        for user_id, wallet_balance in connection.execute(
            select(wallets.c.user_id, wallets.c.balance)
        ):
            assert wallet_balance == sums.get(user_id, 0), f"wallet {user_id} != its ledger"
        broken = connection.execute(
            text(
                "SELECT count(*) FROM ledger_entries e WHERE e.balance_after <> "
                "(SELECT sum(d.delta) FROM ledger_entries d "
                " WHERE d.user_id = e.user_id AND d.id <= e.id)"
            )
        ).scalar_one()
        assert broken == 0, "balance_after disagrees with the running sum"
    engine.dispose()


class ManualClock:
    """A time source the test moves by hand: "at the right time" without sleeping.

    Pass it to `client_for(clock=...)`; it starts at the real time, so signed deliveries (whose
    timestamps Stripe's SDK checks against the real clock) still verify.
    """

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


def container(client: TestClient) -> Container:
    """The services behind an in-process app, for jobs the server runs on its own (expiry)."""
    return cast(Container, cast(FastAPI, client.app).state.container)


def expire_due(client: TestClient) -> int:
    """Run the expiry job now, as the server does periodically; the credits that expired."""
    return sum(lot.credits for lot in container(client).expiry.expire_due())


@contextmanager
def services_at(database_url: str, now: datetime) -> Iterator[Container]:
    """The server's services with their clock at `now` (another process, say): how entries made
    long ago get here."""
    container = build_container(make_settings(database_url), clock=lambda: now)
    try:
        yield container
    finally:
        container.close()


def assert_database_audit_clean(database_url: str) -> None:
    """`creditflow audit` over a database served by other processes."""
    services = build_container(make_settings(database_url))
    try:
        assert_audit_clean(services.audit.run())
    finally:
        services.close()


def delivered(client: httpx.Client, event: dict[str, Any]) -> str:
    """Deliver `event`, expect 200, and return what creditflow did with it (processed, ...)."""
    response = deliver(client, event)
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def buy(client: httpx.Client, *, credits: int = 100, amount: int = 1000, **session: Any) -> str:
    """A paid Checkout Session for `credits`, delivered; its PaymentIntent id, by which refunds
    and disputes find the purchase."""
    payment_intent_id = samples.new_id("pi")
    event = paid_session_event(
        credits=credits, amount=amount, payment_intent_id=payment_intent_id, **session
    )
    assert delivered(client, event) == "processed"
    return payment_intent_id


def register_and_buy(
    client: httpx.Client, user_id: str, *, credits: int = 100, amount: int = 1000
) -> str:
    """A registered user with one paid purchase; its PaymentIntent id."""
    register(client, user_id)
    return buy(client, user_id=user_id, credits=credits, amount=amount)


def money_back_event(name: str, payment_intent_id: str, **fields: Any) -> dict[str, Any]:
    """A refund or dispute body from fixtures/stripe/derived about one PaymentIntent, with
    fields of its object replaced, under a fresh event id (a new event, not a redelivery)."""
    return derived_event(
        name, event_id=samples.new_id("evt"), payment_intent=payment_intent_id, **fields
    )


def payment_intent_event(
    event_type: str = "payment_intent.succeeded", **intent: Any
) -> dict[str, Any]:
    """Stripe's example PaymentIntent, succeeded for 1000, with fields of it replaced."""
    obj = fixture("payment_intent.json")
    obj.update(status="succeeded", amount=1000, amount_received=1000)
    obj.update(intent)
    return samples.event(event_type, obj)


def purchase_paid_by(client: httpx.Client, payment_intent_id: str) -> dict[str, Any]:
    [purchase] = [p for p in purchases(client) if p["payment_intent_id"] == payment_intent_id]
    return purchase


def story(client: httpx.Client, user_id: str) -> list[tuple[str, int]]:
    """The wallet's ledger (up to 500 entries) as (kind, delta), oldest first: what happened."""
    entries = api_get(client, f"/v1/wallets/{user_id}/ledger", limit=500)["entries"]
    return [(entry["kind"], entry["delta"]) for entry in reversed(entries)]


def spend(
    client: httpx.Client, user_id: str, credits: int, key: str, reason: str = "image generation"
) -> httpx.Response:
    body = {"credits": credits, "idempotency_key": key, "reason": reason}
    return client.post(f"/v1/wallets/{user_id}/spend", json=body, headers=auth())


def grant(
    client: httpx.Client,
    user_id: str,
    credits: int,
    key: str,
    *,
    reason: str = "welcome bonus",
    expires_at: datetime | str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"credits": credits, "idempotency_key": key, "reason": reason}
    if expires_at is not None:
        body["expires_at"] = expires_at if isinstance(expires_at, str) else expires_at.isoformat()
    return client.post(f"/v1/wallets/{user_id}/grants", json=body, headers=auth())


def confirmed_payment(
    sdk: stripe.StripeClient, *, user_id: str, credits: int, amount: int = 1000
) -> str:
    """A card PaymentIntent from the app's own payment form, carrying creditflow's metadata,
    confirmed (localstripe then makes its `payment_intent.succeeded` event)."""
    card = sdk.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    intent = sdk.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": "usd",
            "payment_method": card.id,
            "metadata": {"user_id": user_id, "credits": str(credits)},
        }
    )
    assert sdk.v1.payment_intents.confirm(intent.id).status == "succeeded"
    return intent.id


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a thread of its own: a test in the same worker may have left an event
    loop running in the main thread (Playwright's sync API keeps one for the session), and
    `asyncio.run` refuses to start inside one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
