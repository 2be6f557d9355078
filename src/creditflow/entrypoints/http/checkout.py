"""/v1/checkout-sessions: create a Checkout Session for a user; fulfil it from the success page."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from creditflow.domain.checkout import CheckoutOrder
from creditflow.domain.statuses import DeliveryStatus
from creditflow.entrypoints.http.api import BODY_ERRORS, V1_DEPENDENCIES, Services
from creditflow.entrypoints.http.errors import error_body, error_responses
from creditflow.entrypoints.http.json_body import JsonBodyRoute
from creditflow.entrypoints.http.schemas import (
    CheckoutSessionIn,
    CheckoutSessionOut,
    FulfilmentOut,
)

router = APIRouter(
    prefix="/v1/checkout-sessions",
    tags=["checkout"],
    dependencies=V1_DEPENDENCIES,
    route_class=JsonBodyRoute,
)
CREATE_ERRORS = error_responses(400, 404, 422, 503, *BODY_ERRORS)
FULFIL_ERRORS = error_responses(404, 500, 503)
FULFIL_FAILED = (
    "processing failed; the session is stored and the next fulfil call, or Stripe's webhook, "
    "processes it again"
)


@router.post(
    "",
    response_model=CheckoutSessionOut,
    responses=CREATE_ERRORS,
)
def create_checkout_session(body: CheckoutSessionIn, services: Services) -> CheckoutSessionOut:
    """A Checkout Session (payment mode) naming the user and the credits in
    `client_reference_id`, its metadata and its PaymentIntent's, so every later event matches;
    for a recurring price, a subscription-mode session naming the user in `client_reference_id`,
    its metadata and its subscription's (`credits` is then what each period grants)."""
    created = services.checkout.create(CheckoutOrder(**body.model_dump()))
    return CheckoutSessionOut(
        id=created.session.id, url=created.session.url, credits=created.credits
    )


@router.post(
    "/{session_id}/fulfil",
    response_model=FulfilmentOut,
    responses=FULFIL_ERRORS,
)
def fulfil_checkout_session(session_id: str, services: Services) -> FulfilmentOut | JSONResponse:
    """The success page's call: reads the session from Stripe and fulfils it like its webhook
    would, through the same idempotent path; with the webhook, in any order, it grants once."""
    fulfilment = services.checkout.fulfil(session_id)
    delivery = fulfilment.delivery
    if delivery.status is DeliveryStatus.FAILED:
        return JSONResponse(error_body("processing_failed", FULFIL_FAILED), status_code=500)
    purchase = fulfilment.purchase
    return FulfilmentOut(
        checkout_session_id=fulfilment.checkout_session_id,
        status=fulfilment.status,
        credits=None if purchase is None else purchase.credits,
        user_id=None if purchase is None else purchase.user_id,
        event_id=delivery.event_id,
        outcome=delivery.status.value,
        error=delivery.error,
    )
