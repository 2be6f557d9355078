"""Calls to Stripe's API through the official SDK, with its errors translated into ours."""

from __future__ import annotations

import stripe
from stripe._base_address import BaseAddresses

from creditflow.domain.credits import LineItem
from creditflow.errors import NeedsAttention, StripeUnavailable

RETRYABLE = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)


def make_client(api_key: str, api_base: str | None) -> stripe.StripeClient:
    base: BaseAddresses | None = {"api": api_base.rstrip("/")} if api_base else None
    return stripe.StripeClient(api_key, base_addresses=base, max_network_retries=2)


class StripeLineItems:
    """Line items are not part of webhook payloads; the catalog needs them to count units."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    def list(self, checkout_session_id: str) -> list[LineItem]:
        try:
            page = self._client.v1.checkout.sessions.line_items.list(
                checkout_session_id, params={"limit": 100}
            )
            return [
                LineItem(
                    price_id=item.price.id if item.price else None, quantity=item.quantity or 0
                )
                for item in page.auto_paging_iter()
            ]
        except RETRYABLE as exc:
            raise StripeUnavailable(f"Stripe API unavailable: {exc.user_message or exc}") from exc
        except stripe.StripeError as exc:
            raise NeedsAttention(
                f"Stripe refused to list line items of {checkout_session_id}: "
                f"{exc.user_message or exc}"
            ) from exc
