"""Selling credits through Stripe Checkout: what an order buys and what its session carries.

A session creditflow creates names its buyer and its credits in the three places Stripe copies
into every later event: `client_reference_id`, the session's metadata, and its PaymentIntent's
metadata. So `checkout.session.*` and `payment_intent.*` events all find the user and the credits
without a catalog look-up or a guess (docs/design.md, flows 1 and 5). A recurring price makes a
subscription session instead: its buyer goes in `client_reference_id`, the session's metadata and
the subscription's (`subscription_data.metadata`), which every invoice of it carries; its credits
are not written down, each invoice is priced when paid (docs/design.md, flow 9).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from creditflow.domain.credits import Catalog
from creditflow.errors import InvalidRequest


@dataclass(frozen=True)
class CheckoutOrder:
    """What the app asks for: a catalog pack or a Stripe price, bought `quantity` times."""

    user_id: str
    price_id: str | None
    pack: str | None
    quantity: int
    success_url: str
    cancel_url: str

    def __post_init__(self) -> None:
        if (self.price_id is None) == (self.pack is None):
            raise InvalidRequest("give exactly one of price_id and pack")
        if type(self.quantity) is not int or self.quantity < 1:
            raise InvalidRequest("quantity must be a whole number of at least 1")

    def price_in(self, catalog: Catalog) -> str:
        """The Stripe price this order buys: its own, or its pack's."""
        if self.price_id is not None:
            return self.price_id
        assert self.pack is not None
        if self.pack not in catalog.packs:
            known = ", ".join(sorted(catalog.packs)) or "none"
            raise InvalidRequest(f"no pack {self.pack!r} in the catalog (packs: {known})")
        return catalog.packs[self.pack]


@dataclass(frozen=True)
class PriceTerms:
    """What Stripe says of a price: its `metadata.credits`, and whether it bills periodically
    (`type: recurring`)."""

    credits: str | None
    recurring: bool


@dataclass(frozen=True)
class SessionRequest:
    """The Checkout Session to create for one price: payment mode, or subscription mode for a
    recurring price (then `credits` is what each period grants)."""

    user_id: str
    price_id: str
    quantity: int
    credits: int
    success_url: str
    cancel_url: str
    recurring: bool = False

    @property
    def metadata(self) -> dict[str, str]:
        """Set on the session and on its PaymentIntent alike; `credits` is the purchase's total.
        A subscription's carry the user only: its invoices are priced when paid, so a catalog
        change applies to the next one (a subscription's `metadata.credits` would override it)."""
        if self.recurring:
            return {"user_id": self.user_id}
        return {"user_id": self.user_id, "credits": str(self.credits)}


@dataclass(frozen=True)
class SessionSnapshot:
    """A session as Stripe has it now, as the event Stripe would send for that state (the
    webhook's own input), and the ids its purchase is found by."""

    checkout_session_id: str
    payment_intent_id: str | None
    event: Mapping[str, Any]


@dataclass(frozen=True)
class CreatedSession:
    id: str
    url: str | None  # None only for embedded Checkout, which creditflow does not request
