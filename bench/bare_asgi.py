"""The HTTP layer's limit: a bare ASGI app that reads the body and verifies its signature.

No FastAPI, no database: uvicorn, the same `verify_and_parse` (the official stripe SDK's check
and the same JSON parse) and a fixed 200. What a webhook costs before creditflow does any work.
`uvicorn --factory bench.bare_asgi:create_app`; the secret and tolerance come from the same
settings as creditflow's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from creditflow.adapters.stripe.signatures import verify_and_parse
from creditflow.errors import CreditflowError
from creditflow.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

OK = b'{"status":"verified"}'
REFUSED = b'{"status":"refused"}'


def create_app() -> App:
    settings = Settings()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan: nothing to start
        if scope["method"] == "GET":  # the harness's readiness check (/healthz)
            await answer(send, 200, OK)
            return
        if await verified(scope, receive, send, settings) is not None:
            await answer(send, 200, OK)

    return app


async def verified(
    scope: Scope, receive: Receive, send: Send, settings: Settings
) -> tuple[bytes, dict[str, Any]] | None:
    """The body and its event once the signature vouches for them; None once refused (400)."""
    body = await read_body(receive)
    header = dict(scope["headers"]).get(b"stripe-signature", b"").decode("latin-1") or None
    try:
        event = verify_and_parse(
            body, header, settings.webhook_secrets, settings.webhook_tolerance_seconds
        )
    except CreditflowError:
        await answer(send, 400, REFUSED)
        return None
    return body, event


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
