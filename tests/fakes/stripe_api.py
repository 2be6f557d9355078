"""A fake of the Stripe API calls that localstripe cannot answer: Checkout Sessions and prices.

Why it exists: creditflow creates Checkout Sessions, reads them back (the success page's fulfil),
lists their line items (not part of webhook payloads) and reads prices' metadata.credits, all
through the official SDK's `StripeClient`. localstripe implements none of these (it does
PaymentIntents, refunds, events and webhooks: tests/localstripe_server.py), and stripe-mock
answers from fixed fixtures, so a test could not pay a session it created, choose the price and
quantity bought, or make Stripe fail.

Served on a real port; creditflow reaches it over HTTP exactly as it reaches Stripe, pointed here
by `STRIPE_API_BASE`. Every answer is built from Stripe's own example object
(tests/fixtures/stripe/, see stripe_objects.py) and errors have Stripe's shape and status codes.
It can fail like Stripe's API does (500 `api_error`) or answer slowly, until told otherwise.
Anything else is a 404. Tests drive the buyer's side: `pay`, `complete_unpaid`, `expire`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes import stripe_objects
from tests.fakes.form import decode_form

SESSIONS_PATH = "/v1/checkout/sessions"
SESSION_PATH = "/v1/checkout/sessions/{session_id}"
LINE_ITEMS_PATH = "/v1/checkout/sessions/{session_id}/line_items"
PRICES_PATH = "/v1/prices"
PRICE_PATH = "/v1/prices/{price_id}"
PAYMENT_LINK_PATH = "/v1/payment_links/{link_id}"
WEBHOOK_ENDPOINTS_PATH = "/v1/webhook_endpoints"
BALANCE_PATH = "/v1/balance"

Handler = Callable[[Request, dict[str, Any]], dict[str, Any]]


class StripeErrorAnswer(Exception):
    def __init__(self, status: int, error: dict[str, str]) -> None:
        super().__init__(error["message"])
        self.status = status
        self.error = error


@dataclass
class FakeStripeApi:
    """What the fake knows, whether it is failing, and what it was asked (paths, and params)."""

    api_key: str
    base_url: str = ""  # set once it is served
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    line_items: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    created_with: dict[str, dict[str, Any]] = field(default_factory=dict)  # session id -> params
    payment_links: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook_endpoints: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False
    delay_seconds: float = 0.0
    requests: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_price(
        self,
        price_id: str,
        *,
        unit_amount: int = 1000,
        credits: str | None = None,
        interval: str | None = None,
    ) -> None:
        """A price in the account, one-time or (with `interval`) recurring; `credits` is its
        metadata.credits."""
        self.prices[price_id] = stripe_objects.price(
            price_id, unit_amount=unit_amount, credits=credits, interval=interval
        )

    def add_payment_link(self, link_id: str) -> None:
        self.payment_links[link_id] = stripe_objects.payment_link(link_id)

    def add_webhook_endpoint(
        self, url: str, events: list[str] | None = None, *, status: str = "enabled"
    ) -> None:
        """An endpoint configured in the account; by default it sends every event (`*`)."""
        self.webhook_endpoints.append(stripe_objects.webhook_endpoint(url, events or ["*"], status))

    def sell(self, session_id: str, *items: tuple[str, int]) -> None:
        """The session bought these (price id, quantity) pairs."""
        self.line_items[session_id] = list(items)

    def pay(self, session_id: str) -> dict[str, Any]:
        """The buyer paid (or a delayed payment arrived); the session as Stripe now has it."""
        stripe_objects.completed(self.sessions[session_id], paid=True)
        return self.sessions[session_id]

    def complete_unpaid(self, session_id: str) -> dict[str, Any]:
        """Checkout completed with a delayed payment method: the money is still to come."""
        stripe_objects.completed(self.sessions[session_id], paid=False)
        return self.sessions[session_id]

    def expire(self, session_id: str) -> dict[str, Any]:
        self.sessions[session_id]["status"] = "expired"
        return self.sessions[session_id]

    def payment_intent(self, session_id: str) -> dict[str, Any]:
        """The succeeded PaymentIntent of a paid session, carrying `payment_intent_data`."""
        metadata = self.created_with[session_id].get("payment_intent_data", {}).get("metadata", {})
        return stripe_objects.succeeded_payment_intent(self.sessions[session_id], metadata)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(SESSIONS_PATH, self._answer(self._create_session), methods=["POST"]),
                Route(SESSION_PATH, self._answer(self._retrieve_session)),
                Route(LINE_ITEMS_PATH, self._answer(self._list_line_items)),
                Route(PRICES_PATH, self._answer(self._list_prices)),
                Route(PRICE_PATH, self._answer(self._retrieve_price)),
                Route(PAYMENT_LINK_PATH, self._answer(self._retrieve_payment_link)),
                Route(WEBHOOK_ENDPOINTS_PATH, self._answer(self._list_webhook_endpoints)),
                Route(BALANCE_PATH, self._answer(self._balance)),
            ]
        )

    def _answer(self, handler: Handler) -> Callable[[Request], Awaitable[JSONResponse]]:
        async def endpoint(request: Request) -> JSONResponse:
            with self._lock:
                self.requests.append(request.url.path)
            await asyncio.sleep(self.delay_seconds)
            try:
                self._check(request)
                params = decode_form(await request.body()) if request.method == "POST" else {}
                return JSONResponse(handler(request, params))
            except StripeErrorAnswer as answer:
                return JSONResponse({"error": answer.error}, status_code=answer.status)

        return endpoint

    def _check(self, request: Request) -> None:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            raise _error(401, "invalid_request_error", "Invalid API Key provided: sk_****")
        if self.failing:
            raise _error(500, "api_error", "An unknown error occurred (fake Stripe is down).")

    def _create_session(self, _request: Request, params: dict[str, Any]) -> dict[str, Any]:
        for name in ("mode", "success_url", "line_items"):
            if name not in params:
                raise _error(400, "invalid_request_error", f"Missing required param: {name}.")
        amount, currency = 0, "usd"
        for index, line in enumerate(params["line_items"]):
            known = self.prices.get(line.get("price", ""))
            if known is None:
                raise _error(
                    400,
                    "invalid_request_error",
                    f"No such price: '{line.get('price')}'",
                    code="resource_missing",
                    param=f"line_items[{index}][price]",
                )
            amount += known["unit_amount"] * int(line.get("quantity", 1))
            currency = known["currency"]
        _check_mode(params, [self.prices[line["price"]] for line in params["line_items"]])
        session = stripe_objects.open_checkout_session(params, amount, currency)
        with self._lock:
            self.sessions[session["id"]] = session
            self.created_with[session["id"]] = params
            self.sell(
                session["id"],
                *((line["price"], int(line.get("quantity", 1))) for line in params["line_items"]),
            )
        return session

    def _retrieve_session(self, request: Request, _params: dict[str, Any]) -> dict[str, Any]:
        session_id = request.path_params["session_id"]
        if session_id not in self.sessions:
            raise _no_such("checkout.session", session_id)
        return self.sessions[session_id]

    def _list_line_items(self, request: Request, _params: dict[str, Any]) -> dict[str, Any]:
        session_id = request.path_params["session_id"]
        if session_id not in self.line_items:
            raise _no_such("checkout.session", session_id)
        data = [
            stripe_objects.line_item(
                session_id, index, price_id, quantity, self.prices.get(price_id)
            )
            for index, (price_id, quantity) in enumerate(self.line_items[session_id])
        ]
        return {"object": "list", "data": data, "has_more": False, "url": request.url.path}

    def _retrieve_price(self, request: Request, _params: dict[str, Any]) -> dict[str, Any]:
        price_id = request.path_params["price_id"]
        if price_id not in self.prices:
            raise _no_such("price", price_id)
        return self.prices[price_id]

    def _list_prices(self, request: Request, _params: dict[str, Any]) -> dict[str, Any]:
        """Filtered by `type` and `active`, as Stripe's list is; one page holds them all."""
        wanted = request.query_params
        data = [
            price
            for price in self.prices.values()
            if wanted.get("type", price["type"]) == price["type"]
            and wanted.get("active", str(price["active"]).lower()) == str(price["active"]).lower()
        ]
        return {"object": "list", "data": data, "has_more": False, "url": request.url.path}

    def _retrieve_payment_link(self, request: Request, _params: dict[str, Any]) -> dict[str, Any]:
        link_id = request.path_params["link_id"]
        if link_id not in self.payment_links:
            raise _no_such("payment_link", link_id)
        return self.payment_links[link_id]

    def _list_webhook_endpoints(self, request: Request, _params: dict[str, Any]) -> dict[str, Any]:
        data = self.webhook_endpoints
        return {"object": "list", "data": data, "has_more": False, "url": request.url.path}

    def _balance(self, _request: Request, _params: dict[str, Any]) -> dict[str, Any]:
        """The cheapest authenticated call: what a key check reads."""
        money = [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}]
        return {"object": "balance", "available": money, "livemode": False, "pending": money}


def _check_mode(params: dict[str, Any], prices: list[dict[str, Any]]) -> None:
    """Stripe's own refusals: a recurring price needs subscription mode, which needs one, and
    `payment_intent_data` is for payment mode only."""
    recurring = any(price["type"] == "recurring" for price in prices)
    if params["mode"] == "payment" and recurring:
        raise _error(
            400,
            "invalid_request_error",
            "You specified `payment` mode but passed a recurring price. Either switch to "
            "`subscription` mode or use only one-time prices.",
        )
    if params["mode"] == "subscription" and not recurring:
        raise _error(
            400,
            "invalid_request_error",
            "You must provide at least one recurring price in `subscription` mode when using "
            "prices.",
        )
    if params["mode"] == "subscription" and "payment_intent_data" in params:
        raise _error(
            400,
            "invalid_request_error",
            "You can not pass `payment_intent_data` in `subscription` mode.",
        )


def _no_such(kind: str, object_id: str) -> StripeErrorAnswer:
    return _error(
        404, "invalid_request_error", f"No such {kind}: '{object_id}'", code="resource_missing"
    )


def _error(status: int, error_type: str, message: str, **extra: str) -> StripeErrorAnswer:
    return StripeErrorAnswer(status, {"type": error_type, "message": message, **extra})
