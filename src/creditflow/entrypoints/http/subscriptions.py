"""The /v1 subscriptions API: what creditflow knows of a user's subscriptions and their grants."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from creditflow.domain.subscriptions import SubscriptionGrant, SubscriptionView
from creditflow.entrypoints.http.api import V1_DEPENDENCIES, Limit, Services
from creditflow.entrypoints.http.errors import error_responses
from creditflow.entrypoints.http.schemas import NO_NUL

router = APIRouter(
    prefix="/v1",
    dependencies=V1_DEPENDENCIES,
    responses=error_responses(401, 422, 503),
    tags=["subscriptions"],
)


class SubscriptionGrantOut(BaseModel):
    """A period's grant: the purchase of one paid invoice."""

    invoice_id: str
    status: str
    credits: int | None
    user_id: str | None
    credited_at: datetime | None = Field(description="null while waiting as a pending grant")
    expires_at: datetime | None = Field(description="null: the credits roll over")
    created_at: datetime

    @classmethod
    def of(cls, grant: SubscriptionGrant) -> SubscriptionGrantOut:
        return cls(**grant.__dict__)


class SubscriptionOut(BaseModel):
    subscription_id: str
    user_id: str | None
    customer_id: str | None
    status: str | None = Field(
        description="Stripe's status (active, past_due, canceled, ...); null until Stripe reports "
        "it or an invoice is paid"
    )
    current_period_start: datetime | None
    current_period_end: datetime | None
    credits_per_period: int | None = Field(description="what its plan's last paid period granted")
    ended_at: datetime | None = Field(description="set once canceled: no later period grants")
    livemode: bool
    grants: list[SubscriptionGrantOut] = Field(description="newest first")

    @classmethod
    def of(cls, view: SubscriptionView) -> SubscriptionOut:
        sub = view.subscription
        return cls(
            subscription_id=sub.subscription_id,
            user_id=sub.user_id,
            customer_id=sub.customer_id,
            status=sub.status,
            current_period_start=sub.current_period_start,
            current_period_end=sub.current_period_end,
            credits_per_period=sub.credits_per_period,
            ended_at=sub.ended_at,
            livemode=sub.livemode,
            grants=[SubscriptionGrantOut.of(grant) for grant in view.grants],
        )


class SubscriptionsOut(BaseModel):
    subscriptions: list[SubscriptionOut]


@router.get("/subscriptions", response_model=SubscriptionsOut)
def list_subscriptions(
    services: Services,
    user_id: Annotated[str, Query(max_length=255, pattern=NO_NUL)],
    limit: Limit = 100,
) -> SubscriptionsOut:
    """A user's subscriptions, newest first, each with the grants its paid invoices made."""
    found = services.queries.subscriptions(user_id=user_id, limit=limit)
    return SubscriptionsOut(subscriptions=[SubscriptionOut.of(view) for view in found])
