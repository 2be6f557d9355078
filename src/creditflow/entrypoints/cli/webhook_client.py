"""Send signed test deliveries to a running server, and say in plain words why one was refused.

Shared by `trigger` and `verify`: both sign like Stripe does (the official SDK's helper), with
the first value of STRIPE_WEBHOOK_SECRET, which the server must also accept.
"""

from __future__ import annotations

from typing import Any

import httpx

from creditflow.adapters.stripe import samples
from creditflow.errors import CreditflowError, NotConfigured
from creditflow.settings import Settings

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT_SECONDS = 30


class ServerUnreachable(CreditflowError):
    code = "server_unreachable"


def signing_secret(settings: Settings) -> str:
    if not settings.webhook_secrets:
        raise NotConfigured(
            "STRIPE_WEBHOOK_SECRET is not set here: test events are signed with the server's "
            "secret. Run this from the directory where `creditflow serve` wrote ./.env, or set "
            "STRIPE_WEBHOOK_SECRET to the server's value"
        )
    return settings.webhook_secrets[0].get_secret_value()


def unreachable(url: str, exc: httpx.TransportError) -> ServerUnreachable:
    return ServerUnreachable(
        f"no server answers at {url} ({type(exc).__name__}): start one with `creditflow serve`, "
        "or pass --url"
    )


def post_event(
    client: httpx.Client, path: str, event: dict[str, Any], secret: str
) -> httpx.Response:
    """POST `event` as Stripe would: compact JSON, `Stripe-Signature` made by the SDK."""
    body = samples.encode(event)
    headers = {
        "Stripe-Signature": samples.signature_header(body, secret),
        "Content-Type": "application/json",
    }
    try:
        return client.post(path, content=body, headers=headers)
    except httpx.TransportError as exc:
        raise unreachable(str(client.base_url), exc) from exc


def error_of(response: httpx.Response) -> tuple[str, str]:
    """The `error.code` and message of our JSON errors; the raw text for anything else."""
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return "", response.text.strip()[:200]


def explain_refusal(response: httpx.Response) -> str:
    """Why the server refused a delivery, in terms of what to change."""
    code, message = error_of(response)
    status = response.status_code
    if status == 400 and code == "invalid_signature":
        if "tolerance" in message.lower():
            return (
                f"{message}: this machine's clock and the server's differ by more than "
                "the signature tolerance"
            )
        return (
            "signature verification failed: the server's STRIPE_WEBHOOK_SECRET differs from "
            "yours (the first value of STRIPE_WEBHOOK_SECRET here signs test events)"
        )
    if status == 503 and code == "not_configured":
        return (
            "the server has no STRIPE_WEBHOOK_SECRET, so it refuses every webhook: set it where "
            "the server runs (the value you use here) and restart it"
        )
    if status == 404:
        return f"no webhook handler at {response.request.url}: check --url and --path"
    return f"{status} {code}: {message}" if code else f"{status}: {message}"
