"""Verify a webhook delivery with the official SDK, then parse it. Nothing is trusted before."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import stripe
from pydantic import SecretStr

from creditflow.adapters import strict_json
from creditflow.adapters.stripe.fields import MAX_ID_LENGTH, storable_text
from creditflow.errors import MalformedPayload, NotConfigured, SignatureInvalid

MAX_TYPE_LENGTH = 100  # webhook_events.type


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
    _refuse_future(header, tolerance)
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


def _refuse_future(header: str, tolerance: int) -> None:
    """The SDK refuses only timestamps older than the tolerance (stripe 16's `verify_header`
    compares `timestamp < now - tolerance`): a signature dated ahead would stay replayable until
    that date comes, so a timestamp beyond the tolerance in the future is refused too."""
    # The SDK has just verified the signature over the header's first `t=`: it is an integer.
    timestamp = int(next(item[2:] for item in header.split(",") if item.startswith("t=")))
    if timestamp > time.time() + tolerance:
        raise SignatureInvalid(
            f"signature verification failed: timestamp {timestamp} is over {tolerance} s ahead "
            "of this server's clock"
        )


def _parse(body: str) -> dict[str, Any]:
    try:
        event = strict_json.loads(body)
    except ValueError as exc:
        # JSONDecodeError, what strict_json refuses (a key given twice, nesting over its limit,
        # lone surrogates), and integers too long to convert (over 4,300 digits).
        raise MalformedPayload(f"body is not JSON: {exc}") from exc
    if not isinstance(event, dict) or event.get("object") != "event":
        raise MalformedPayload("body is not a Stripe event object")
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise MalformedPayload("event has no string id and type")
    # The inbox row needs both: what it cannot store is refused here, before anything is written.
    if not storable_text(event_id, MAX_ID_LENGTH) or not storable_text(event_type, MAX_TYPE_LENGTH):
        raise MalformedPayload(f"event id {event_id!a} or type {event_type!a} cannot be stored")
    if not isinstance(event.get("livemode", False), bool):
        raise MalformedPayload("event livemode is not true or false")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise MalformedPayload("event has no data.object")
    return event
