"""/v1/checkout-sessions: create a Checkout Session for a user."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from creditflow.domain.checkout import CheckoutOrder
from creditflow.entrypoints.http.api import Services
from creditflow.entrypoints.http.auth import require_api_key
from creditflow.entrypoints.http.schemas import (
    CheckoutSessionIn,
    CheckoutSessionOut,
)

router = APIRouter(
    prefix="/v1/checkout-sessions", tags=["checkout"], dependencies=[Depends(require_api_key)]
)
Responses = dict[int | str, dict[str, Any]]
STRIPE_DOWN: Responses = {
    503: {"description": "Stripe is not configured, refuses the key, or is down"}
}
CREATE_ERRORS: Responses = {
    404: {"description": "unknown user"},
    422: {"description": "unknown pack or price"},
    **STRIPE_DOWN,
}


@router.post(
    "",
    response_model=CheckoutSessionOut,
    responses=CREATE_ERRORS,
)
def create_checkout_session(body: CheckoutSessionIn, services: Services) -> CheckoutSessionOut:
    """A Checkout Session (payment mode) naming the user and the credits in
    `client_reference_id`, its metadata and its PaymentIntent's, so every later event matches."""
    created = services.checkout.create(CheckoutOrder(**body.model_dump()))
    return CheckoutSessionOut(
        id=created.session.id, url=created.session.url, credits=created.credits
    )
