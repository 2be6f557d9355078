"""The one place that builds the Stripe SDK client: key, API base, timeouts and retries.

Every call creditflow makes to Stripe goes through a `stripe.StripeClient` made here (wrapped by
`StripeGateway`, gateway.py), so `STRIPE_API_BASE` (the tests point it at localstripe or at a
local fake) and the timeouts hold for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import stripe
from stripe._base_address import BaseAddresses


@dataclass(frozen=True)
class Timeouts:
    """Seconds to connect and to wait for an answer. Stripe's SDK default is 80 s for both; an
    app's success page or checkout button should hear "Stripe unavailable" much sooner."""

    connect: float = 5.0
    read: float = 30.0


DEFAULT_TIMEOUTS = Timeouts()
# The SDK retries connection errors, 409 and 5xx answers itself, with exponential backoff and an
# idempotency key on every POST, so a retried create never makes a second object.
MAX_NETWORK_RETRIES = 2


def make_client(
    api_key: str,
    api_base: str | None,
    *,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    max_network_retries: int = MAX_NETWORK_RETRIES,
) -> stripe.StripeClient:
    base: BaseAddresses | None = {"api": api_base.rstrip("/")} if api_base else None
    return stripe.StripeClient(
        api_key,
        base_addresses=base,
        max_network_retries=max_network_retries,
        http_client=stripe.RequestsClient(timeout=(timeouts.connect, timeouts.read)),
    )
