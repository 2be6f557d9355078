"""A fake of the one Stripe API call creditflow makes: list a Checkout Session's line items.

Why it exists: line items are not part of webhook payloads, so pricing a session by the catalog
(price id or payment link id -> credits per unit, times the quantity) reads them from Stripe's
API, through the official SDK's `StripeClient`. The usual local stand-ins do not fit: localstripe
does not implement Checkout Sessions line items at all, and stripe-mock answers from fixed
fixtures, so a test could not choose the price and quantity bought or make Stripe fail.

This fake serves `GET /v1/checkout/sessions/{id}/line_items` on a real port with Stripe's list
shape, each item built from Stripe's own example (`fixtures/stripe/checkout_session_line_item.json`)
with the price id and quantity a test sets. creditflow reaches it over HTTP exactly as it reaches
Stripe, pointed here by `STRIPE_API_BASE`. It can also fail like Stripe's API does (500 with an
`api_error` body) until told to recover. It is deliberately tiny: anything else is a 404.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support import fixture

LINE_ITEMS_PATH = "/v1/checkout/sessions/{session_id}/line_items"


@dataclass
class FakeStripeApi:
    """What the fake knows: line items per session, whether it is failing, what it was asked."""

    api_key: str
    base_url: str = ""  # set once it is served
    line_items: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    failing: bool = False
    requests: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sell(self, session_id: str, *items: tuple[str, int]) -> None:
        """The session bought these (price id, quantity) pairs."""
        self.line_items[session_id] = list(items)

    def app(self) -> Starlette:
        return Starlette(routes=[Route(LINE_ITEMS_PATH, self._list_line_items)])

    async def _list_line_items(self, request: Request) -> JSONResponse:
        session_id = request.path_params["session_id"]
        with self._lock:
            self.requests.append(request.url.path)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "invalid_request_error", "Invalid API Key provided.")
        if self.failing:
            return _error(500, "api_error", "An unknown error occurred (fake Stripe is down).")
        if session_id not in self.line_items:
            return _error(404, "invalid_request_error", f"No such checkout.session: '{session_id}'")
        data = [
            _line_item(session_id, index, price_id, quantity)
            for index, (price_id, quantity) in enumerate(self.line_items[session_id])
        ]
        return JSONResponse(
            {"object": "list", "data": data, "has_more": False, "url": request.url.path}
        )


def _line_item(session_id: str, index: int, price_id: str, quantity: int) -> dict[str, Any]:
    item = copy.deepcopy(fixture("checkout_session_line_item.json"))
    item["id"] = f"li_{session_id[-12:]}_{index}"
    item["price"]["id"] = price_id
    item["quantity"] = quantity
    unit_amount = item["price"]["unit_amount"]
    for amount in ("amount_subtotal", "amount_total"):
        item[amount] = unit_amount * quantity
    return item


def _error(status: int, error_type: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": error_type, "message": message}}, status_code=status)
