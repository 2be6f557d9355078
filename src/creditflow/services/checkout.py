"""Checkout from the app's side: create a session for a user; fulfil it from the success page.

`create` writes nothing: the session carries all that later events need (domain/checkout.py), and
the user check is one short read. A recurring price (the catalog says so, or Stripe's price
object, read when the catalog does not know the price) makes a subscription session.

`fulfil` retrieves the session from Stripe, then hands it to
`DeliveryService.receive` as the event Stripe sends for its state (the gateway's snapshot):
stored in the inbox, interpreted and applied in the webhook's own transaction and code, so a
fulfil and the webhook, in either order or at once, grant once. No transaction is ever held open
across a call to Stripe.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from creditflow.domain.checkout import (
    CheckoutOrder,
    CreatedSession,
    PriceTerms,
    SessionRequest,
    SessionSnapshot,
)
from creditflow.domain.credits import Catalog, NoCreditsRule, total_credits, unit_credits
from creditflow.domain.purchase_record import Purchase
from creditflow.errors import InvalidRequest, NotConfigured, NotFound
from creditflow.services.clock import Clock
from creditflow.services.deliveries import Delivery, DeliveryResult, DeliveryService
from creditflow.services.unit_of_work import UnitOfWorkFactory

FULFIL_ENDPOINT = "/v1/checkout-sessions/{id}/fulfil"


class CheckoutGateway(Protocol):
    """The Stripe calls checkout needs (`StripeGateway`)."""

    def create_checkout_session(self, request: SessionRequest) -> CreatedSession: ...

    def checkout_session(self, session_id: str, *, now: datetime) -> SessionSnapshot: ...

    def price_terms(self, price_id: str) -> PriceTerms: ...


@dataclass(frozen=True)
class NewCheckout:
    session: CreatedSession
    credits: int


@dataclass(frozen=True)
class Fulfilment:
    checkout_session_id: str
    delivery: DeliveryResult
    purchase: Purchase | None

    @property
    def status(self) -> str:
        """The purchase's status, or the outcome when none was recorded (needs_attention, ...)."""
        return self.delivery.status.value if self.purchase is None else self.purchase.status.value


class CheckoutService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        catalog: Callable[[], Catalog],
        gateway: CheckoutGateway | None,
        deliveries: DeliveryService,
        clock: Clock,
    ) -> None:
        self._uow = uow_factory
        self._catalog = catalog
        self._gateway = gateway
        self._deliveries = deliveries
        self._clock = clock

    def create(self, order: CheckoutOrder) -> NewCheckout:
        gateway = self._require_gateway("create checkout sessions")
        catalog = self._catalog()
        price_id = order.price_in(catalog)
        with self._uow() as uow:
            if uow.users.get(order.user_id) is None:
                raise NotFound(f"no user {order.user_id}")
        try:
            per_unit, recurring = _price_terms(gateway, price_id, catalog)
            credits = total_credits(
                per_unit,
                order.quantity,
                f"{order.quantity} of {price_id}",
            )
        except NoCreditsRule as exc:
            raise InvalidRequest(exc.message) from exc
        request = SessionRequest(
            user_id=order.user_id,
            price_id=price_id,
            quantity=order.quantity,
            credits=credits,
            success_url=order.success_url,
            cancel_url=order.cancel_url,
            recurring=recurring,
        )
        return NewCheckout(gateway.create_checkout_session(request), credits)

    def fulfil(self, session_id: str) -> Fulfilment:
        gateway = self._require_gateway("fulfil checkout sessions")
        snapshot = gateway.checkout_session(session_id, now=self._clock())
        event = snapshot.event
        result = self._deliveries.receive(
            Delivery(
                event_id=event["id"],
                event_type=event["type"],
                livemode=event["livemode"],
                payload=json.dumps(event, separators=(",", ":")),
                event=event,
                endpoint=FULFIL_ENDPOINT,
            )
        )
        with self._uow() as uow:
            purchase = uow.purchases.find(snapshot.checkout_session_id, snapshot.payment_intent_id)
        return Fulfilment(snapshot.checkout_session_id, result, purchase)

    def _require_gateway(self, what: str) -> CheckoutGateway:
        if self._gateway is None:
            raise NotConfigured(f"STRIPE_SECRET_KEY is not set: creditflow cannot {what}")
        return self._gateway


def _price_terms(gateway: CheckoutGateway, price_id: str, catalog: Catalog) -> tuple[int, bool]:
    """Credits per unit (per period, when recurring) and whether the price is recurring.

    A catalog price needs no call to Stripe: it is recurring when its entry says so
    (`recurring = true`, or `rollover = true`). Any other price is read from Stripe once, for
    its metadata.credits and its `type`.
    """
    if price_id in catalog.prices:
        return catalog.prices[price_id], price_id in catalog.recurring
    try:
        terms = gateway.price_terms(price_id)
        credits = unit_credits(price_id, catalog, terms.credits)
    except NotFound as exc:
        raise InvalidRequest(f"price {price_id} is not in the catalog, nor in Stripe") from exc
    if credits is None:
        raise InvalidRequest(
            f"price {price_id} is not in the catalog (CREDITFLOW_CATALOG) and has no "
            "metadata.credits in Stripe: no rule says how many credits it buys"
        )
    return credits, terms.recurring
