"""The one webhook handler, served at /api/stripe/webhook (and the legacy alias when enabled).

Every request is timed, and one refused before anything is stored is counted by its reason here:
only this layer sees those. Outcomes of stored deliveries are reported by the service itself.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from creditflow.adapters.stripe.signatures import verify_and_parse
from creditflow.bootstrap import Container
from creditflow.domain.statuses import DeliveryStatus
from creditflow.entrypoints.http.errors import error_responses
from creditflow.entrypoints.http.metrics import Metrics, app_metrics
from creditflow.entrypoints.http.schemas import WebhookReplyOut
from creditflow.errors import CreditflowError, PayloadTooLarge, UnsupportedMediaType
from creditflow.logging_setup import bound_event
from creditflow.services.deliveries import Delivery
from creditflow.settings import (
    LEGACY_WEBHOOK_PATH,
    MAX_WEBHOOK_BODY_BYTES,
    WEBHOOK_PATH,
    Settings,
)

FAILED_REPLY = "processing failed; the delivery is stored and Stripe's retry processes it again"

log = logging.getLogger(__name__)

# The handler reads the raw body itself (its bytes are what is signed), so FastAPI cannot infer
# the request from a parameter; the document states it here.
WEBHOOK_REQUEST: dict[str, Any] = {
    "parameters": [
        {
            "name": "Stripe-Signature",
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "`t=<unix time>,v1=<HMAC-SHA256 of t.body>` with the endpoint secret",
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "description": "a Stripe event, as Stripe signed it"}
            }
        },
    },
}
WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": WebhookReplyOut, "description": "processed, duplicate, ignored or parked"},
    500: {
        "model": WebhookReplyOut,
        "description": "stored, processing failed: Stripe's retry processes it again",
    },
    **error_responses(400, 413, 415, 503),
}


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` (before parsing)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {limit}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(f"body is over the {limit}-byte limit")
    return bytes(body)


def require_json(content_type: str | None) -> None:
    """Stripe sends `application/json`; a form, text or an unlabelled body is not a delivery."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"content type {content_type!r} is not JSON; Stripe sends application/json"
        )


async def receive_webhook(request: Request) -> JSONResponse:
    metrics = app_metrics(request)
    with metrics.webhook_seconds.time():
        return await _receive(request, metrics)


async def _receive(request: Request, metrics: Metrics) -> JSONResponse:
    container: Container = request.app.state.container
    if request.url.path == LEGACY_WEBHOOK_PATH:
        log.warning(
            "delivery on the deprecated %s; point the Stripe endpoint at %s",
            LEGACY_WEBHOOK_PATH,
            WEBHOOK_PATH,
        )
    try:
        body, event = await _verified(request, container.settings)
    except CreditflowError as exc:
        metrics.webhook_refused(exc.code)
        log.warning("webhook refused (%s): %s", exc.code, exc.message)
        raise
    delivery = Delivery.of(event, body.decode("utf-8"), request.url.path)
    with bound_event(delivery.event_id):
        if container.batched_deliveries is not None:  # group commit: no thread per request
            result = await container.batched_deliveries.receive(delivery)
        else:
            result = await run_in_threadpool(container.deliveries.receive, delivery)
    if result.status is DeliveryStatus.FAILED:
        # 500: Stripe retries, and the retry processes it again. What failed is on the inbox row
        # for operators; the response, shown in Stripe's Dashboard, does not echo internals.
        return JSONResponse(
            {"event_id": result.event_id, "status": result.status.value, "error": FAILED_REPLY},
            status_code=500,
        )
    return JSONResponse(
        {"event_id": result.event_id, "status": result.status.value, "error": result.error}
    )


async def _verified(request: Request, settings: Settings) -> tuple[bytes, dict[str, Any]]:
    """The body and the event it holds, once a configured secret's signature vouches for it."""
    require_json(request.headers.get("content-type"))
    body = await read_limited_body(request, MAX_WEBHOOK_BODY_BYTES)
    event = verify_and_parse(
        body,
        request.headers.get("stripe-signature"),
        settings.webhook_secrets,
        settings.webhook_tolerance_seconds,
    )
    return body, event


def webhook_router(*, legacy: bool) -> APIRouter:
    router = APIRouter(tags=["webhooks"])
    documented: dict[str, Any] = {
        "methods": ["POST"],
        "responses": WEBHOOK_RESPONSES,
        "openapi_extra": WEBHOOK_REQUEST,
    }
    summary = "Receive a signed Stripe event (the one webhook handler)"
    router.add_api_route(WEBHOOK_PATH, receive_webhook, summary=summary, **documented)
    if legacy:
        router.add_api_route(
            LEGACY_WEBHOOK_PATH,
            receive_webhook,
            summary="Deprecated alias of /api/stripe/webhook",
            deprecated=True,
            **documented,
        )
    return router
