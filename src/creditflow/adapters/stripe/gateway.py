"""`StripeGateway`: every question creditflow asks Stripe's API, in one place.

`bootstrap` builds it from STRIPE_SECRET_KEY and STRIPE_API_BASE (client.py); without a key there
is none, and each feature that needs it says so (`NotConfigured`). Each method is one SDK call
(list methods page through with the SDK's iterator), returns plain data, Stripe's JSON as dicts
shaped like a webhook's `data.object` or domain values, and raises only creditflow's errors
(failures.py): `StripeUnavailable`, `StripeKeyRefused`, `NotFound`, `StripeRefused`.

Used by the event interpreter (line items), checkout creation and fulfilment; reconciling missed
events and `doctor` build on `events`, `refunds` and `check_key`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import stripe
from stripe.params import EventListParamsCreated
from stripe.params.checkout import SessionCreateParams

from creditflow.adapters.stripe.failures import translated
from creditflow.adapters.stripe.fields import amount_of, id_of, metadata_of
from creditflow.adapters.stripe.snapshots import checkout_session_event
from creditflow.domain.checkout import (
    CreatedSession,
    PriceTerms,
    SessionRequest,
    SessionSnapshot,
)
from creditflow.domain.credits import LineItem

PAGE_SIZE = 100


class StripeGateway:
    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    # Checkout: creating sessions, reading them back, pricing them.

    def create_checkout_session(self, request: SessionRequest) -> CreatedSession:
        with translated(f"create a checkout session for {request.price_id}"):
            session = self._client.v1.checkout.sessions.create(params=_session_params(request))
        return CreatedSession(id=session.id, url=session.url)

    def checkout_session(self, session_id: str, *, now: datetime) -> SessionSnapshot:
        """The session as Stripe has it, as the event it would send for that state at `now`."""
        with translated(f"retrieve checkout session {session_id}"):
            session = self._client.v1.checkout.sessions.retrieve(session_id).to_dict(for_json=True)
        return SessionSnapshot(
            checkout_session_id=session["id"],
            payment_intent_id=id_of(session, "payment_intent"),
            event=checkout_session_event(session, created=int(now.timestamp())),
        )

    def line_items(self, checkout_session_id: str) -> list[LineItem]:
        """Not part of webhook payloads; each item's price comes expanded, with its metadata."""
        with translated(f"list the line items of {checkout_session_id}"):
            page = self._client.v1.checkout.sessions.line_items.list(
                checkout_session_id, params={"limit": PAGE_SIZE}
            )
            return [_line_item(item.to_dict(for_json=True)) for item in page.auto_paging_iter()]

    def price_credits(self, price_id: str) -> str | None:
        """The price's own `metadata.credits` (docs/design.md, credits rule 3), as Stripe has it."""
        return self.price_terms(price_id).credits

    def price_terms(self, price_id: str) -> PriceTerms:
        """The price's `metadata.credits` and whether it is recurring, in one call."""
        with translated(f"retrieve price {price_id}"):
            price = self._client.v1.prices.retrieve(price_id).to_dict(for_json=True)
        credits = metadata_of(price).get("credits")
        return PriceTerms(
            credits=None if credits is None else str(credits),
            recurring=price.get("type") == "recurring",
        )

    def recurring_prices(self) -> list[dict[str, Any]]:
        """The account's active recurring prices: every price a subscription can bill."""
        with translated("list the recurring prices"):
            page = self._client.v1.prices.list(
                params={"type": "recurring", "active": True, "limit": PAGE_SIZE}
            )
            return [price.to_dict(for_json=True) for price in page.auto_paging_iter()]

    # What happened: for reconciling missed events, and for listing money that went back.

    def events(
        self, types: Iterable[str], *, since: datetime, until: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Events of `types` created in [since, until), newest first per type (Stripe keeps 30
        days). One listing per type: `type` is the filter every Stripe API version (and
        localstripe) understands."""
        created: EventListParamsCreated = {"gte": int(since.timestamp())}
        if until is not None:
            created["lt"] = int(until.timestamp())
        for event_type in types:
            with translated(f"list {event_type} events"):
                page = self._client.v1.events.list(
                    params={"type": event_type, "created": created, "limit": PAGE_SIZE}
                )
                yield from (event.to_dict(for_json=True) for event in page.auto_paging_iter())

    def refunds(self, payment_intent_id: str) -> list[dict[str, Any]]:
        """Every refund of one payment, newest first, shaped like a `refund.*` event's object."""
        with translated(f"list the refunds of {payment_intent_id}"):
            page = self._client.v1.refunds.list(
                params={"payment_intent": payment_intent_id, "limit": PAGE_SIZE}
            )
            return [refund.to_dict(for_json=True) for refund in page.auto_paging_iter()]

    # Set-up checks.

    def webhook_endpoints(self) -> list[dict[str, Any]]:
        """The account's webhook endpoints: where Stripe delivers, which events, enabled or not."""
        with translated("list the webhook endpoints"):
            page = self._client.v1.webhook_endpoints.list(params={"limit": PAGE_SIZE})
            return [endpoint.to_dict(for_json=True) for endpoint in page.auto_paging_iter()]

    def payment_link(self, link_id: str) -> dict[str, Any]:
        with translated(f"retrieve payment link {link_id}"):
            return self._client.v1.payment_links.retrieve(link_id).to_dict(for_json=True)

    def check_key(self) -> None:
        """A cheap authenticated call: `StripeKeyRefused` when the key is wrong or revoked."""
        with translated("check the API key by reading the balance"):
            self._client.v1.balance.retrieve()


def _session_params(request: SessionRequest) -> SessionCreateParams:
    """Payment mode names the buyer on the PaymentIntent too; subscription mode on the
    subscription (Stripe refuses `payment_intent_data` there), so every invoice names the user."""
    params: SessionCreateParams = {
        "mode": "subscription" if request.recurring else "payment",
        "line_items": [{"price": request.price_id, "quantity": request.quantity}],
        "success_url": request.success_url,
        "cancel_url": request.cancel_url,
        "client_reference_id": request.user_id,
        "metadata": request.metadata,
    }
    if request.recurring:
        params["subscription_data"] = {"metadata": request.metadata}
    else:
        params["payment_intent_data"] = {"metadata": request.metadata}
    return params


def _line_item(item: dict[str, Any]) -> LineItem:
    price = item.get("price")
    credits = metadata_of(price).get("credits") if isinstance(price, dict) else None
    return LineItem(
        price_id=id_of(item, "price"),
        quantity=amount_of(item, "quantity") or 0,
        price_credits=None if credits is None else str(credits),
    )
