"""The one exception tree of creditflow; entrypoints translate it to HTTP statuses or exit codes.

CreditflowError
├── InvalidDelivery          a webhook request that is not a genuine, well-formed Stripe event
│   ├── SignatureInvalid     missing/bad signature, wrong secret, timestamp out of tolerance
│   ├── MalformedPayload     not JSON, not an event object
│   └── UnsupportedMediaType not JSON (the webhook: not declared so; /v1: neither declared nor so)
├── PayloadTooLarge          body over the limit, refused before parsing
├── NotConfigured            a feature needs configuration that is missing
│   └── StripeKeyRefused     Stripe refused STRIPE_SECRET_KEY (invalid, revoked, not allowed)
├── Unauthorized             /v1 without the right bearer key
├── NotFound                 unknown user, event, Stripe object, ...
├── Conflict                 the request contradicts stored state (e-mail taken, key reused)
│   ├── ExceedsHold          a capture of more credits than its hold holds
│   └── HoldClosed           a capture or void of a hold captured, voided or expired
├── InsufficientCredits      a spend larger than the balance
├── InvalidRequest           the request is well-formed but its values are not acceptable
│   └── StripeRefused        Stripe refused what we asked as invalid (no such price, bad URL)
├── NeedsAttention           a payment whose credits no rule gives: parked, never guessed
├── StripeUnavailable        Stripe's API failed; retrying later can help
└── DatabaseUnavailable      the database is unreachable; retrying later can help
    └── Contention           a deadlock or serialization failure; retrying at once can help
"""

from __future__ import annotations


class CreditflowError(Exception):
    """Root of every error creditflow raises on purpose; `code` is stable for API clients."""

    code = "error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidDelivery(CreditflowError):
    code = "invalid_delivery"


class SignatureInvalid(InvalidDelivery):
    code = "invalid_signature"


class MalformedPayload(InvalidDelivery):
    code = "malformed_payload"


class UnsupportedMediaType(InvalidDelivery):
    code = "unsupported_media_type"


class PayloadTooLarge(CreditflowError):
    code = "payload_too_large"


class NotConfigured(CreditflowError):
    code = "not_configured"


class StripeKeyRefused(NotConfigured):
    """Retrying cannot help until an operator fixes the key; `creditflow doctor` checks it."""

    code = "stripe_key_refused"


class Unauthorized(CreditflowError):
    code = "unauthorized"


class NotFound(CreditflowError):
    code = "not_found"


class Conflict(CreditflowError):
    code = "conflict"


class ExceedsHold(Conflict):
    code = "exceeds_hold"


class HoldClosed(Conflict):
    """`details["status"]` names what closed it: captured, voided or expired."""

    code = "hold_closed"


class InsufficientCredits(CreditflowError):
    code = "insufficient_credits"


class InvalidRequest(CreditflowError):
    code = "invalid_request"


class StripeRefused(InvalidRequest):
    """Stripe answered 4xx to a request it understood; the same request will fail again."""

    code = "stripe_refused"


class NeedsAttention(CreditflowError):
    """Nothing can be granted safely until an operator acts (fix the catalog, then replay)."""

    code = "needs_attention"


class StripeUnavailable(CreditflowError):
    code = "stripe_unavailable"


class DatabaseUnavailable(CreditflowError):
    code = "database_unavailable"


class Contention(DatabaseUnavailable):
    """The transaction lost a deadlock or a serialization conflict and was rolled back; a
    batch retries its parts at once (services/group_commit.py), a lone request answers 503."""
