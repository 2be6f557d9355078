"""How many credits a purchase is worth: the rules of DESIGN.md "How many credits", in order.

1. the session's `metadata.credits` (the total for the purchase);
2. the catalog: credits per unit of a price id or a payment link id, times the quantity bought.

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
    price_id: str | None
    quantity: int


@dataclass(frozen=True)
class Catalog:
    """Whole credits per unit bought, keyed by Stripe price id or payment link id."""

    prices: Mapping[str, int] = field(default_factory=dict)
    payment_links: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind, table in (("price", self.prices), ("payment link", self.payment_links)):
            for key, credits in table.items():
                if type(credits) is not int or not 0 < credits <= MAX_CREDITS:
                    raise ValueError(
                        f"catalog: {kind} {key!r} must give a positive whole number of credits "
                        f"(at most {MAX_CREDITS})"
                    )

    @property
    def is_empty(self) -> bool:
        return not self.prices and not self.payment_links


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
    return _within_bounds(int(digits), "metadata.credits")


def needs_line_items(facts: CreditFacts, catalog: Catalog) -> bool:
    """Line items are not in webhook payloads; fetch them only when a catalog rule needs them."""
    if facts.metadata_credits is not None:
        return False
    if facts.payment_link is not None and facts.payment_link in catalog.payment_links:
        return True
    return bool(catalog.prices)


def credits_for(facts: CreditFacts, catalog: Catalog) -> int:
    if facts.metadata_credits is not None:
        return parse_credits(facts.metadata_credits)
    link = facts.payment_link
    if link is not None and link in catalog.payment_links:
        items = _require_line_items(facts, f"payment link {link}")
        total = catalog.payment_links[link] * sum(item.quantity for item in items)
        return _within_bounds(total, f"payment link {link}")
    if catalog.prices and facts.line_items is not None:
        return _within_bounds(_credits_from_prices(facts.line_items, catalog), "the catalog")
    return _explain_missing_rule(facts, catalog)


def _within_bounds(credits: int, source: str) -> int:
    if credits > MAX_CREDITS:
        raise NoCreditsRule(f"{source} gives {credits} credits, over the {MAX_CREDITS} limit")
    return credits


def _require_line_items(facts: CreditFacts, what: str) -> Sequence[LineItem]:
    if facts.line_items is None:
        raise NoCreditsRule(
            f"{what} is in the catalog, but the quantity bought is only in the session's line "
            "items: set STRIPE_SECRET_KEY so creditflow can read them, then replay"
        )
    return facts.line_items


def _credits_from_prices(items: Sequence[LineItem], catalog: Catalog) -> int:
    if not items:
        raise NoCreditsRule("the session has no line items to look up in the catalog")
    unknown = sorted({item.price_id or "(no price)" for item in items} - set(catalog.prices))
    if unknown:
        raise NoCreditsRule(f"price(s) {', '.join(unknown)} not in the catalog")
    return sum(catalog.prices[item.price_id] * item.quantity for item in items if item.price_id)


def _explain_missing_rule(facts: CreditFacts, catalog: Catalog) -> int:
    if catalog.is_empty:
        raise NoCreditsRule(
            "no metadata.credits on the session and no catalog configured (CREDITFLOW_CATALOG)"
        )
    if facts.payment_link is not None and not catalog.prices:
        raise NoCreditsRule(f"payment link {facts.payment_link} is not in the catalog")
    raise NoCreditsRule(
        "no metadata.credits on the session and its line items could not be read "
        "(set STRIPE_SECRET_KEY), so the catalog's prices cannot be applied"
    )
