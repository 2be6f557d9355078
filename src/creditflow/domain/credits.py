"""How many credits a purchase is worth: the rules of docs/design.md, "How many credits", in order.

1. the session's `metadata.credits` (the total for the purchase);
2. the catalog: a payment link's credits per purchase (whatever the quantity: no line items
   needed), else credits per unit of a payment link id or a price id, times the quantity bought;
3. a price missing from the catalog: the price's own `metadata.credits` (per unit), which Stripe
   sends inside each line item's price.

When no rule gives a number, `NoCreditsRule` says why; nothing is ever guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from creditflow.errors import NeedsAttention

# A trillion credits in one purchase is a typo, not a sale; it also keeps every sum far inside the
# 64-bit integers the database stores.
MAX_CREDITS = 10**12


class NoCreditsRule(NeedsAttention):
    """No rule gives the number of credits; the payment is parked until an operator fixes it."""


@dataclass(frozen=True)
class LineItem:
    """One line of a session; `price_credits` is the price's metadata.credits as Stripe has it."""

    price_id: str | None
    quantity: int
    price_credits: str | None = None


@dataclass(frozen=True)
class Catalog:
    """Whole credits per unit bought, keyed by Stripe price id or payment link id.

    `packs` name the prices the app sells through `POST /v1/checkout-sessions` (name -> price id).
    `link_purchases`: payment links sold in a fixed quantity, credits per purchase; the webhook
    names the link, so these need no line items (nor STRIPE_SECRET_KEY).
    """

    prices: Mapping[str, int] = field(default_factory=dict)
    payment_links: Mapping[str, int] = field(default_factory=dict)
    packs: Mapping[str, str] = field(default_factory=dict)
    link_purchases: Mapping[str, int] = field(default_factory=dict)
    # Prices whose subscription credits never expire (`rollover = true`): no reset per period.
    rollover: frozenset[str] = frozenset()
    # Prices sold as subscriptions (`recurring = true`, or `rollover = true`): `POST
    # /v1/checkout-sessions` makes a `mode=subscription` session for them without asking Stripe.
    recurring: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name, price_id in self.packs.items():
            if not isinstance(price_id, str) or not price_id.strip():
                raise ValueError(f"catalog: pack {name!r} must name a Stripe price id")
        for kind, table in (
            ("price", self.prices),
            ("payment link", self.payment_links),
            ("payment link", self.link_purchases),
        ):
            for key, credits in table.items():
                if type(credits) is not int or not 0 < credits <= MAX_CREDITS:
                    raise ValueError(
                        f"catalog: {kind} {key!r} must give a positive whole number of credits "
                        f"(at most {MAX_CREDITS})"
                    )

    @property
    def is_empty(self) -> bool:
        return not self.prices and not self.payment_links and not self.link_purchases

    @property
    def links(self) -> list[str]:
        """Every payment link id the catalog prices, either way."""
        return [*self.payment_links, *self.link_purchases]


@dataclass(frozen=True)
class CreditFacts:
    """What a payment tells about its credits. `line_items` is None when they could not be read."""

    metadata_credits: str | None
    payment_link: str | None
    line_items: Sequence[LineItem] | None


def parse_credits(raw: object) -> int:
    """Credits are whole and positive; "10.5", "-3", "ten" or "²" are refused, never rounded."""
    text = str(raw).strip()
    digits = text.lstrip("0")
    if not (text.isascii() and text.isdecimal()) or not digits:
        raise NoCreditsRule(f"metadata.credits is {raw!r}, not a positive whole number")
    # int() will not even convert more than 4,300 digits; far fewer are already over the limit.
    if len(digits) > len(str(MAX_CREDITS)):
        raise NoCreditsRule(
            f"metadata.credits has {len(digits)} digits, over the {MAX_CREDITS} limit"
        )
    return total_credits(int(digits), 1, "metadata.credits")


def total_credits(per_unit: int, quantity: int, source: str) -> int:
    """Credits per unit times the quantity bought, refused over `MAX_CREDITS`."""
    credits = per_unit * quantity
    if credits > MAX_CREDITS:
        raise NoCreditsRule(f"{credits} credits from {source} is over the {MAX_CREDITS} limit")
    return credits


def needs_line_items(facts: CreditFacts) -> bool:
    """Line items are not in webhook payloads: read them unless metadata.credits gives the total.

    They carry what rules 2 and 3 need: the quantity, the price ids and the prices' metadata.
    """
    return facts.metadata_credits is None


def unit_credits(price_id: str, catalog: Catalog, price_credits: str | None) -> int | None:
    """Rules 2 and 3 for one price: its catalog entry, else its own metadata.credits, else None."""
    if price_id in catalog.prices:
        return catalog.prices[price_id]
    if price_credits is None:
        return None
    try:
        return parse_credits(price_credits)
    except NoCreditsRule as exc:
        raise NoCreditsRule(f"price {price_id}: {exc.message}") from exc


def credits_for(facts: CreditFacts, catalog: Catalog) -> int:
    if facts.metadata_credits is not None:
        return parse_credits(facts.metadata_credits)
    link = facts.payment_link
    if link is not None and link in catalog.link_purchases:
        return catalog.link_purchases[link]
    if link is not None and link in catalog.payment_links:
        items = _require_line_items(facts, f"payment link {link}")
        quantity = sum(item.quantity for item in items)
        return total_credits(catalog.payment_links[link], quantity, f"payment link {link}")
    if facts.line_items is not None:
        return _credits_from_prices(facts, facts.line_items, catalog)
    return _explain_missing_rule(facts, catalog)


def _require_line_items(facts: CreditFacts, what: str) -> Sequence[LineItem]:
    if facts.line_items is None:
        raise NoCreditsRule(
            f"{what} is in the catalog, but the quantity bought is only in the session's line "
            "items: set STRIPE_SECRET_KEY so creditflow can read them, then replay"
        )
    return facts.line_items


def _credits_from_prices(facts: CreditFacts, items: Sequence[LineItem], catalog: Catalog) -> int:
    if not items:
        raise NoCreditsRule("the session has no line items to look up in the catalog")
    priced = [
        (item, unit_credits(item.price_id, catalog, item.price_credits) if item.price_id else None)
        for item in items
    ]
    unknown = sorted({item.price_id or "(no price)" for item, per_unit in priced if not per_unit})
    if unknown:
        link = facts.payment_link
        raise NoCreditsRule(
            (f"payment link {link} is not in the catalog; " if link else "")
            + f"price(s) {', '.join(unknown)} not in the catalog and without metadata.credits"
        )
    total = sum(per_unit * item.quantity for item, per_unit in priced if per_unit)
    return total_credits(total, 1, "the line items' prices")


def _explain_missing_rule(facts: CreditFacts, catalog: Catalog) -> int:
    """Line items could not be read (no STRIPE_SECRET_KEY): say what would have priced it."""
    unread = "without STRIPE_SECRET_KEY the prices' own metadata.credits cannot be read either"
    if catalog.is_empty:
        raise NoCreditsRule(
            "no metadata.credits on the session and no catalog configured (CREDITFLOW_CATALOG); "
            + unread
        )
    if facts.payment_link is not None and not catalog.prices:
        raise NoCreditsRule(f"payment link {facts.payment_link} is not in the catalog; {unread}")
    raise NoCreditsRule(
        "no metadata.credits on the session and its line items could not be read "
        "(set STRIPE_SECRET_KEY), so the catalog's prices cannot be applied"
    )
