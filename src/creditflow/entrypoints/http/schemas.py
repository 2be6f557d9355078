"""Request and response bodies of the /v1 API (they shape the OpenAPI document)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from creditflow.domain.credits import MAX_CREDITS
from creditflow.domain.deliveries import StoredDelivery
from creditflow.domain.pending import PendingGrant
from creditflow.domain.purchase_record import Purchase
from creditflow.domain.users import User, Wallet
from creditflow.domain.wallet import LedgerEntry
from creditflow.services.wallet_operations import WalletChange

# PostgreSQL text cannot hold a NUL character; refusing it at the door keeps both databases alike.
NO_NUL = r"^[^\x00]*$"
MAX_ID = 2**63 - 1  # ledger entry ids are 64-bit


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # details, e.g. the balance with a refused spend

    code: str = Field(examples=["not_found"], description="stable, for programs")
    message: str = Field(description="for people")


class ErrorOut(BaseModel):
    """Every error answer, from any route."""

    error: ErrorDetail


class HealthOut(BaseModel):
    status: str = Field(examples=["ok"])


class WebhookReplyOut(BaseModel):
    event_id: str
    status: str = Field(description="processed, duplicate, ignored, needs_attention or failed")
    error: str | None


class UserIn(BaseModel):
    email: str | None = Field(
        None,
        max_length=320,
        pattern=NO_NUL,
        examples=["ada@example.com"],
        description="Payment Link buyers are matched by it, case-insensitively. Omitted: the "
        "stored e-mail stays as it is; `null`: the stored e-mail is removed.",
    )


class UserOut(BaseModel):
    id: str
    email: str | None
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, email=user.email, created_at=user.created_at)


class PendingGrantOut(BaseModel):
    id: int
    purchase_id: int
    user_id: str | None
    email: str | None
    credits: int
    created_at: datetime
    claimed_at: datetime | None
    claimed_by: str | None

    @classmethod
    def of(cls, grant: PendingGrant) -> PendingGrantOut:
        return cls(**grant.__dict__)


class RegistrationOut(BaseModel):
    user: UserOut
    created: bool
    balance: int
    claimed: list[PendingGrantOut]


class UserWithBalanceOut(BaseModel):
    user: UserOut
    balance: int


class WalletOut(BaseModel):
    user_id: str
    balance: int
    held: int = Field(description="credits reserved by live holds")
    available: int = Field(description="balance - held: what spends and new holds may use")
    updated_at: datetime

    @classmethod
    def of(cls, wallet: Wallet, held: int) -> WalletOut:
        return cls(
            user_id=wallet.user_id,
            balance=wallet.balance,
            held=held,
            available=wallet.balance - held,
            updated_at=wallet.updated_at,
        )


class LedgerEntryOut(BaseModel):
    id: int
    delta: int
    kind: str
    reference: str
    reason: str
    balance_after: int
    created_at: datetime
    expires_at: datetime | None = Field(
        None, description="A grant's expiry: what is left of it then leaves in an expiry entry."
    )

    @classmethod
    def of(cls, entry: LedgerEntry) -> LedgerEntryOut:
        return cls(
            id=entry.id,
            delta=entry.delta,
            kind=entry.kind,
            reference=entry.reference,
            reason=entry.reason,
            balance_after=entry.balance_after,
            created_at=entry.created_at,
            expires_at=entry.expires_at,
        )


NEXT_BEFORE = "pass as `before` for the next (older) page; null on the last page"


class LedgerPageOut(BaseModel):
    user_id: str
    entries: list[LedgerEntryOut]
    next_before: int | None = Field(description=NEXT_BEFORE)


class PurchaseOut(BaseModel):
    id: int
    checkout_session_id: str | None
    payment_intent_id: str | None
    status: str
    payment_state: str
    user_id: str | None
    email: str | None
    amount: int | None
    amount_refunded: int
    currency: str | None
    credits: int | None
    credits_refunded: int
    credits_held: int
    dispute_status: str | None
    payment_link: str | None
    livemode: bool
    created_at: datetime
    updated_at: datetime
    credited_at: datetime | None

    @classmethod
    def of(cls, purchase: Purchase) -> PurchaseOut:
        fields = {k: v for k, v in purchase.__dict__.items() if k != "credits_written_off"}
        dispute = purchase.dispute_status
        return cls(
            **{
                **fields,
                "status": purchase.status.value,
                "payment_state": purchase.payment_state.value,
                "dispute_status": None if dispute is None else dispute.value,
            }
        )


class PurchasesOut(BaseModel):
    purchases: list[PurchaseOut]
    next_before: int | None = Field(None, description=NEXT_BEFORE)


class PendingGrantsOut(BaseModel):
    pending_grants: list[PendingGrantOut]
    next_before: int | None = Field(None, description=NEXT_BEFORE)


class EventOut(BaseModel):
    id: str
    type: str
    status: str
    error: str | None
    endpoint: str
    delivery_count: int
    livemode: bool
    received_at: datetime
    processed_at: datetime | None

    @classmethod
    def of(cls, delivery: StoredDelivery) -> EventOut:
        fields = {k: v for k, v in delivery.__dict__.items() if k != "payload"}
        return cls(**{**fields, "status": delivery.status.value})


class EventDetailOut(EventOut):
    payload: dict[str, Any]

    @classmethod
    def of(cls, delivery: StoredDelivery) -> EventDetailOut:
        summary = EventOut.of(delivery).model_dump()
        return cls(**summary, payload=json.loads(delivery.payload))


class EventsOut(BaseModel):
    events: list[EventOut]
    next_before: str | None = Field(None, description=NEXT_BEFORE + " (an event id)")


class ReplayOut(BaseModel):
    event_id: str
    status: str
    error: str | None


class SpendIn(BaseModel):
    credits: int = Field(gt=0, le=MAX_CREDITS, strict=True, examples=[5])
    idempotency_key: str = Field(
        min_length=1, max_length=200, pattern=NO_NUL, examples=["gen_8f14e45f"]
    )
    reason: str = Field(min_length=1, max_length=500, pattern=NO_NUL, examples=["image generation"])


class GrantIn(SpendIn):
    expires_at: datetime | None = Field(
        None, description="ISO 8601 with a timezone; the credits leave the balance then"
    )


class WalletChangeOut(BaseModel):
    user_id: str
    balance: int
    entry: LedgerEntryOut
    replayed: bool = Field(description="true when this key was already used: nothing moved")

    @classmethod
    def of(cls, user_id: str, change: WalletChange) -> WalletChangeOut:
        return cls(
            user_id=user_id,
            balance=change.balance,
            entry=LedgerEntryOut.of(change.entry),
            replayed=change.replayed,
        )


class CheckoutSessionIn(BaseModel):
    user_id: str = Field(min_length=1, max_length=255, examples=["user_42"])
    # Stripe ids are letters, digits and underscores; anything else (an empty id would read
    # Stripe's list of prices) is refused before Stripe is asked.
    price_id: str | None = Field(
        None, min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_]+$", examples=["price_1PqXyZ"]
    )
    pack: str | None = Field(None, min_length=1, max_length=255, examples=["starter"])
    quantity: int = Field(1, ge=1, strict=True)
    success_url: str = Field(
        max_length=2048,
        pattern=r"^https?://",
        examples=["https://app.example.com/paid?session_id={CHECKOUT_SESSION_ID}"],
        description="Stripe replaces {CHECKOUT_SESSION_ID}: the page then calls .../fulfil",
    )
    cancel_url: str = Field(max_length=2048, pattern=r"^https?://")


class CheckoutSessionOut(BaseModel):
    id: str
    url: str | None = Field(description="Stripe's hosted payment page: send the buyer there")
    credits: int = Field(description="what the session grants once paid")


class FulfilmentOut(BaseModel):
    checkout_session_id: str
    status: str = Field(
        description="the purchase's status (awaiting_payment, paid, ...), or needs_attention / "
        "ignored when no purchase was recorded"
    )
    credits: int | None
    user_id: str | None
    event_id: str = Field(description="the inbox row this call was stored as")
    outcome: str = Field(description="processed, duplicate, ignored or needs_attention")
    error: str | None
