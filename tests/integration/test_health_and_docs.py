"""What a load balancer and a person opening /docs meet: over real HTTP, from a real server."""

from __future__ import annotations

import httpx


def test_a_head_health_check_answers_200_without_a_body(live_server: str) -> None:
    """Load balancers probe with HEAD; a 405 there takes a healthy server out of rotation."""
    response = httpx.head(f"{live_server}/healthz")

    assert (response.status_code, response.content) == (200, b"")
