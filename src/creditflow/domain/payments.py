"""A payment event as the core sees it, whatever payment system it came from."""

from __future__ import annotations

from dataclasses import dataclass

from creditflow.domain.buyers import Buyer
from creditflow.domain.credits import NoCreditsRule
from creditflow.domain.purchases import PaymentSignal


@dataclass(frozen=True)
class PaymentEvent:
    """News about one payment. `credits` is None when no rule gave a number (`credits_problem`
    says why); that only matters when the event would grant them.
    """

    checkout_session_id: str
    payment_intent_id: str | None
    signal: PaymentSignal
    buyer: Buyer
    amount: int | None
    currency: str | None
    payment_link: str | None
    livemode: bool
    credits: int | None = None
    credits_problem: str | None = None

    def require_credits(self) -> int:
        if self.credits is None:
            raise NoCreditsRule(self.credits_problem or "no rule gives the number of credits")
        return self.credits


@dataclass(frozen=True)
class IgnoredEvent:
    """An event stored and acknowledged, that creditflow does not act on."""

    reason: str


Interpretation = PaymentEvent | IgnoredEvent
