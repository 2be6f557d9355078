"""Verify a webhook delivery with the official SDK, then parse it. Nothing is trusted before."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import stripe
from pydantic import SecretStr

from creditflow.errors import MalformedPayload, NotConfigured, SignatureInvalid


def verify_and_parse(
    body: bytes, header: str | None, secrets: Sequence[SecretStr], tolerance: int
) -> dict[str, Any]:
    """The event as a dict, if any configured secret signed `body` within `tolerance` seconds."""
    if not secrets:
        raise NotConfigured("STRIPE_WEBHOOK_SECRET is not set: webhooks cannot be verified")
    if not header:
        raise SignatureInvalid("missing Stripe-Signature header")
    text = _decode(body)
    _verify(text, header, secrets, tolerance)
    return _parse(text)


def _decode(body: bytes) -> str:
    """Stripe signs UTF-8 JSON; other bytes cannot even be checked (the SDK would crash on them)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPayload(f"body is not UTF-8: {exc}") from exc


def _verify(body: str, header: str, secrets: Sequence[SecretStr], tolerance: int) -> None:
    failure: stripe.SignatureVerificationError | None = None
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                body, header, secret.get_secret_value(), tolerance
            )
        except stripe.SignatureVerificationError as exc:
            failure = exc
        else:
            return
    # Stripe's messages name the problem (no signatures, timestamp outside tolerance) and never
    # include the secret.
    raise SignatureInvalid(f"signature verification failed: {failure}") from failure


def _parse(body: str) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise MalformedPayload(f"body is not JSON: {exc}") from exc
    if not isinstance(event, dict) or event.get("object") != "event":
        raise MalformedPayload("body is not a Stripe event object")
    if not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise MalformedPayload("event has no string id and type")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise MalformedPayload("event has no data.object")
    return event
