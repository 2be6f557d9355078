"""Requests to /v1 built to break the database: each is a 422 that changes nothing, never a 500.

PostgreSQL refuses NUL characters in text and integers past 64 bits, where SQLite is laxer; the
API refuses both at the door so the two databases answer alike.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ClientFactory
from tests.support import auth, error_of, grant, register, table_snapshot

USER = "user_1"
TOO_BIG = 10**30
SPEND, GRANT = f"/v1/wallets/{USER}/spend", f"/v1/wallets/{USER}/grants"


def change(**fields: Any) -> dict[str, Any]:
    """A spend or grant body with `fields` replaced."""
    return {"credits": 1, "idempotency_key": "k", "reason": "r", **fields}


@pytest.fixture
def client(client_for: ClientFactory) -> TestClient:
    """A crash is answered 500, as a real server would, so it fails on status, not by raising."""
    client = client_for(raise_server_exceptions=False)
    register(client, USER)
    return client


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/users/user%00_1", None),
        ("GET", "/v1/wallets/user%00_1", None),
        ("GET", "/v1/wallets/user%00_1/ledger", None),
        ("GET", f"/v1/wallets/{USER}/ledger?before={TOO_BIG}", None),
        ("GET", f"/v1/wallets/{USER}/ledger?before=-{TOO_BIG}", None),
        ("GET", "/v1/purchases?user_id=user%00_1", None),
        ("GET", "/v1/events/evt%00_1", None),
        ("POST", "/v1/events/evt%00_1/replay", None),
        ("PUT", "/v1/users/user%00_2", {"email": None}),
        ("PUT", "/v1/users/user_2", {"email": "ada\x00@example.com"}),
        ("POST", SPEND, change(idempotency_key="k\x00")),
        ("POST", GRANT, change(reason="\x00")),
        ("POST", GRANT, change(credits=TOO_BIG)),
        ("POST", SPEND, change(credits=TOO_BIG)),
        ("POST", GRANT, change(expires_at="9999-12-31T23:59:59-14:00")),
    ],
    ids=[
        "nul-user",
        "nul-wallet",
        "nul-ledger",
        "huge-before",
        "huge-negative-before",
        "nul-purchases-filter",
        "nul-event",
        "nul-replay",
        "nul-new-user",
        "nul-email",
        "nul-spend-key",
        "nul-grant-reason",
        "huge-grant",
        "huge-spend",
        "expiry-past-9999-in-utc",
    ],
)
def test_a_value_the_database_cannot_hold_is_refused_with_422(
    client: TestClient, database_url: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    before = table_snapshot(database_url)

    response = client.request(method, path, json=body, headers=auth())

    assert error_of(response) == (422, "invalid_request"), response.text
    assert table_snapshot(database_url) == before


def test_grants_stop_well_before_the_balance_could_overflow(client: TestClient) -> None:
    """Two grants of 2^62 would pass 64 bits; one is already far past any real grant."""
    response = grant(client, USER, 2**62, "big")

    assert error_of(response) == (422, "invalid_request")


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("/v1/users/user_1", "GET, PUT"), ("/v1/wallets/user_1/spend", "POST")],
)
def test_a_method_a_path_does_not_serve_is_a_405_naming_every_method_it_does(
    client: TestClient, path: str, allowed: str
) -> None:
    """RFC 9110: `Allow` lists the methods the resource supports, not just one route's."""
    response = client.request("DELETE", path, headers=auth())

    assert error_of(response) == (405, "http_405")
    assert response.headers["allow"] == allowed
