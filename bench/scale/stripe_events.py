"""A bench-local Stripe Events API: `GET /v1/events` pages through a prepared list of events.

Just enough of Stripe for `creditflow reconcile` (the official SDK's auto-paging list): filter by
`type`, `created[gte]`/`created[lt]`, newest first, `limit`, `starting_after`, Stripe's list
envelope. Served by uvicorn in a thread of the benchmark process, on a free port.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from creditflow.adapters.stripe import samples

EVENT_TYPE = "checkout.session.completed"


def paid_sessions(users: list[str], count: int, *, credits: int = 10) -> list[dict[str, Any]]:
    """`count` paid checkout sessions by `users` in turn, as events, newest first."""
    now = int(time.time())
    events = []
    for n in range(count):
        user = users[n % len(users)]
        session = samples.checkout_session(user_id=user, email=None, credits=credits)
        event = samples.event(EVENT_TYPE, session, event_id=f"evt_bench_{n:07d}")
        event["created"] = now - 60 - n
        events.append(event)
    return events


def events_app(events: list[dict[str, Any]]) -> Starlette:
    index = {event["id"]: n for n, event in enumerate(events)}

    async def list_events(request: Request) -> JSONResponse:
        query = request.query_params
        limit = int(query.get("limit", 10))
        start = index[query["starting_after"]] + 1 if "starting_after" in query else 0
        gte = int(query.get("created[gte]", 0))
        lt = int(query.get("created[lt]", 2**62))
        wanted = query.get("type")
        page: list[dict[str, Any]] = []
        position = start
        while position < len(events) and len(page) <= limit:
            event = events[position]
            if (wanted in (None, event["type"])) and gte <= event["created"] < lt:
                page.append(event)
            position += 1
        return JSONResponse(
            {
                "object": "list",
                "url": "/v1/events",
                "has_more": len(page) > limit,
                "data": page[:limit],
            }
        )

    return Starlette(routes=[Route("/v1/events", list_events)])


@contextmanager
def serving(events: list[dict[str, Any]]) -> Iterator[str]:
    """The fake served in a background thread; its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(events_app(events), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the fake Stripe stopped before it started")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
