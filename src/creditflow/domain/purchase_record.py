"""A purchase as stored, and the typed changes the purchase rules make to it.

`PurchaseChange` replaces column dicts: each field a purchase can change, typed, or KEEP. The
store writes exactly the fields a change sets; the rules apply the same change in memory to see
the purchase as it then stands.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import Enum
from typing import Any, Literal, TypeAlias, TypeVar

from creditflow.domain.statuses import DisputeStatus, PaymentState, PurchaseStatus


@dataclass(frozen=True)
class Purchase:
    id: int
    checkout_session_id: str | None
    payment_intent_id: str | None
    payment_state: PaymentState
    status: PurchaseStatus
    user_id: str | None
    email: str | None
    amount: int | None
    currency: str | None
    credits: int | None
    payment_link: str | None
    amount_refunded: int
    dispute_status: DisputeStatus | None
    credits_refunded: int
    credits_held: int
    credits_written_off: int
    livemode: bool
    created_at: datetime
    updated_at: datetime
    credited_at: datetime | None
    invoice_id: str | None = None  # a subscription invoice's purchase
    credits_expire_at: datetime | None = None  # its period's credits expire then

    @property
    def reference(self) -> str:
        """How people and Stripe's Dashboard name this payment."""
        return (
            self.checkout_session_id
            or self.payment_intent_id
            or self.invoice_id
            or f"purchase:{self.id}"
        )

    @property
    def is_credited(self) -> bool:
        """Its credits went to a wallet (not waiting as a pending grant)."""
        return self.credited_at is not None and self.user_id is not None


class Keep(Enum):
    KEEP = "unchanged"


KEEP = Keep.KEEP
T = TypeVar("T")
Kept: TypeAlias = "T | Literal[Keep.KEEP]"


@dataclass(frozen=True)
class PurchaseChange:
    """The fields of a purchase to write (named as on `Purchase`); KEEP leaves one as it is."""

    checkout_session_id: Kept[str | None] = KEEP
    payment_intent_id: Kept[str | None] = KEEP
    payment_state: Kept[PaymentState] = KEEP
    status: Kept[PurchaseStatus] = KEEP
    user_id: Kept[str | None] = KEEP
    email: Kept[str | None] = KEEP
    amount: Kept[int | None] = KEEP
    currency: Kept[str | None] = KEEP
    credits: Kept[int | None] = KEEP
    payment_link: Kept[str | None] = KEEP
    amount_refunded: Kept[int] = KEEP
    dispute_status: Kept[DisputeStatus | None] = KEEP
    credits_refunded: Kept[int] = KEEP
    credits_held: Kept[int] = KEEP
    credits_written_off: Kept[int] = KEEP
    credited_at: Kept[datetime | None] = KEEP
    invoice_id: Kept[str | None] = KEEP
    credits_expire_at: Kept[datetime | None] = KEEP

    def written(self) -> dict[str, Any]:
        """The fields this change writes, by name, with their new values (typed by the fields
        above, which share the names and types of `Purchase`'s)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in values.items() if value is not KEEP}

    @property
    def is_empty(self) -> bool:
        return not self.written()

    def then(self, later: PurchaseChange) -> PurchaseChange:
        """This change followed by `later`: where both write a field, `later` wins."""
        return replace(self, **later.written())

    def applied_to(self, purchase: Purchase) -> Purchase:
        """The purchase as it stands once this change is written."""
        return replace(purchase, **self.written())


NO_CHANGE = PurchaseChange()


def known(value: T | None) -> Kept[T]:
    """A figure an event gives replaces the recorded one; one it lacks keeps it."""
    return KEEP if value is None else value


@dataclass(frozen=True)
class NewPurchase:
    """The row of a purchase seen for the first time, inserted as it ends up."""

    checkout_session_id: str | None
    payment_intent_id: str | None
    payment_state: PaymentState
    livemode: bool
    user_id: str | None = None
    email: str | None = None
    amount: int | None = None
    currency: str | None = None
    payment_link: str | None = None
    credits: int | None = None
    credited_at: datetime | None = None
    invoice_id: str | None = None
    credits_expire_at: datetime | None = None
    subscription_id: str | None = None  # the subscription an invoice's purchase paid for

    @property
    def status(self) -> PurchaseStatus:
        """Nothing is refunded or disputed yet: the status is the payment state's."""
        return PurchaseStatus(self.payment_state.value)
