"""Every request gets an id: the caller's `X-Request-ID` when it looks like one, else a new one.

It is bound for every line logged while the request is handled and echoed in the response, so a
client's report, a proxy's logs and ours can be joined. An incoming value that is not a plain
token (too long, spaces, control characters) is replaced, never copied into the logs.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creditflow.logging_setup import request_id

HEADER = "X-Request-ID"
PLAIN_TOKEN = re.compile(r"[A-Za-z0-9._:+/=-]{1,200}")


def request_id_for(incoming: str | None) -> str:
    if incoming is not None and PLAIN_TOKEN.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Pure ASGI (no extra task), so the id is in the context uvicorn's access log runs in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        current = request_id_for(Headers(scope=scope).get(HEADER))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = current
            await send(message)

        # Not reset on the way out: the request's task ends with it (uvicorn and the test client
        # run each request in a task of its own), and uvicorn's log of an unhandled exception,
        # written after this returns, should still name the request.
        request_id.set(current)
        await self.app(scope, receive, send_with_id)
