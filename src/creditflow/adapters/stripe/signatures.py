"""Verify a webhook delivery with the official SDK, then parse it. Nothing is trusted before."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import stripe
from pydantic import SecretStr

from creditflow.adapters.stripe.fields import MAX_ID_LENGTH, storable_text
from creditflow.errors import MalformedPayload, NotConfigured, SignatureInvalid

MAX_TYPE_LENGTH = 100  # webhook_events.type
# Stripe's objects nest a few levels, expanded ones a few more. Far deeper JSON still parses, but
# whatever later walks it recursively (the API's serializer stops near 255 levels) would fail.
MAX_NESTING = 64


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
        event = json.loads(body, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:
        # ValueError: JSONDecodeError, and integers too long to convert (over 4,300 digits).
        raise MalformedPayload(f"body is not JSON: {exc}") from exc
    _check_contents(event)
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


def _check_contents(value: object) -> None:
    """Refuse what parses but cannot be served back as JSON: nesting deeper than `MAX_NESTING`,
    and lone surrogates (`\\ud800`), the escaped twin of bytes that are not UTF-8 at all.

    Walked without recursion: the point is to refuse what recursion cannot handle.
    """
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and not _encodes(item):
                raise MalformedPayload(f"body holds {item!a}, which is not Unicode text")
            continue
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            item = list(item.values())
        if not isinstance(item, list):
            continue
        if depth > MAX_NESTING:
            raise MalformedPayload(f"body nests objects and arrays over {MAX_NESTING} levels deep")
        stack.extend((child, depth + 1) for child in item)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A key given twice has no one meaning (parsers keep the first or the last): Stripe never
    sends one, so a body with one is refused rather than read one way here, another elsewhere."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise MalformedPayload(f"body has the key {key!a} twice in one object")
        obj[key] = value
    return obj
