"""Stripe SDK errors, translated into creditflow's at this boundary (the tree is in errors.py).

    APIConnectionError (network, timeout),
    RateLimitError (429), APIError (5xx, or an
    answer that is not Stripe's JSON)            -> StripeUnavailable: retrying later can help
    AuthenticationError (401),
    PermissionError (403)                        -> StripeKeyRefused: an operator must fix the key
    InvalidRequestError with status 404          -> NotFound: Stripe has no such object
    any other StripeError (400, 402, ...)        -> StripeRefused: the same request fails again

Messages carry Stripe's own text, which never contains the secret key (Stripe masks it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import stripe

from creditflow.errors import NotFound, StripeKeyRefused, StripeRefused, StripeUnavailable

RETRYABLE = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)
KEY_REFUSED = (stripe.AuthenticationError, stripe.PermissionError)


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Run one Stripe call; `action` names it in the message ("retrieve checkout session cs_1")."""
    try:
        yield
    except RETRYABLE as exc:
        raise StripeUnavailable(f"Stripe API unavailable ({action}): {_said(exc)}") from exc
    except KEY_REFUSED as exc:
        raise StripeKeyRefused(
            f"Stripe refused STRIPE_SECRET_KEY ({action}): {_said(exc)}"
        ) from exc
    except stripe.StripeError as exc:
        if exc.http_status == 404:
            raise NotFound(f"Stripe: {_said(exc)} ({action})") from exc
        details = {"stripe_code": exc.code, "param": getattr(exc, "param", None)}
        raise StripeRefused(
            f"Stripe refused to {action}: {_said(exc)}",
            **{key: value for key, value in details.items() if value},
        ) from exc


def _said(exc: stripe.StripeError) -> str:
    return exc.user_message or type(exc).__name__
