"""What a load balancer and a person opening /docs meet: over real HTTP, from a real server."""

from __future__ import annotations

import re

import httpx


def test_a_head_health_check_answers_200_without_a_body(live_server: str) -> None:
    """Load balancers probe with HEAD; a 405 there takes a healthy server out of rotation."""
    response = httpx.head(f"{live_server}/healthz")

    assert (response.status_code, response.content) == (200, b"")


def test_the_docs_page_loads_nothing_from_another_host_and_its_assets_are_served(
    live_server: str,
) -> None:
    """On a network without internet, /docs from a CDN is a blank page."""
    page = httpx.get(f"{live_server}/docs")
    assert page.status_code == 200
    assert "://" not in page.text  # no absolute URL: no other host
    referenced = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: '([^']+)'""", page.text)
    paths = {path for pair in referenced for path in pair if path}

    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"} <= paths
    assert "/openapi.json" in paths
    for path in paths:
        assert path.startswith("/"), path
        assert not path.startswith("//"), path
        assert httpx.get(f"{live_server}{path}").status_code == 200, path
