"""How /v1 reads what it is sent: JSON whatever the declared type (curl's `-d` says it is a form),
415 for a body that is JSON neither in type nor in fact, 422 for JSON read two ways (a key given
twice) and for paths whose escapes are not UTF-8. A refused request changes nothing."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.support import auth, balance, error_of, grant, table_snapshot

USER = "user_1"
SPEND = f"/v1/wallets/{USER}/spend"
SPEND_BODY = b'{"credits": 3, "idempotency_key": "generation-8812", "reason": "image generation"}'
FORM = "application/x-www-form-urlencoded"  # what `curl -d` declares


def send(
    client: httpx.Client, method: str, path: str, body: bytes, content_type: str | None
) -> httpx.Response:
    headers = auth() if content_type is None else {**auth(), "Content-Type": content_type}
    return client.request(method, path, content=body, headers=headers)


@pytest.mark.parametrize("content_type", [FORM, "text/plain", None])
def test_a_json_body_is_read_as_json_whatever_type_it_was_declared_with(
    client: TestClient, content_type: str | None
) -> None:
    response = send(client, "PUT", "/v1/users/alice", b'{"email": "alice@example.com"}', FORM)
    assert response.status_code == 200, response.text
    assert grant(client, "alice", 10, "welcome-alice").status_code == 200

    spent = send(client, "POST", "/v1/wallets/alice/spend", SPEND_BODY, content_type)

    assert spent.status_code == 200, spent.text
    assert response.json()["user"]["email"] == "alice@example.com"
    assert balance(client, "alice") == 7


@pytest.mark.parametrize(
    ("content_type", "body"),
    [(FORM, b"email=alice%40example.com"), ("text/plain", b"alice@example.com")],
)
def test_a_body_that_is_json_neither_in_type_nor_in_fact_is_a_415_saying_to_send_json(
    client: TestClient, database_url: str, content_type: str, body: bytes
) -> None:
    before = table_snapshot(database_url)

    response = send(client, "PUT", "/v1/users/alice", body, content_type)

    assert error_of(response) == (415, "unsupported_media_type")
    message = response.json()["error"]["message"]
    assert content_type in message
    assert "application/json" in message
    assert table_snapshot(database_url) == before


@pytest.mark.parametrize("content_type", ["application/json", "application/ld+json", None])
def test_a_body_that_declares_json_or_nothing_and_is_not_json_is_a_422(
    client: TestClient, database_url: str, content_type: str
) -> None:
    before = table_snapshot(database_url)

    response = send(client, "PUT", "/v1/users/alice", b'{"email": ', content_type)

    assert error_of(response) == (422, "invalid_request")
    assert table_snapshot(database_url) == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/users/alice", b'{"email": "a@example.com", "email": "b@example.com"}'),
        ("POST", SPEND, b'{"credits": 1, "credits": 5, "idempotency_key": "k", "reason": "r"}'),
        (
            "POST",
            f"/v1/wallets/{USER}/grants",
            b'{"credits": 1, "idempotency_key": "k", "reason": "r", "reason": "s"}',
        ),
    ],
    ids=["user", "spend", "grant"],
)
@pytest.mark.parametrize("content_type", ["application/json", FORM])
def test_a_key_given_twice_is_refused_with_422_as_the_webhook_refuses_it(
    client: TestClient,
    database_url: str,
    method: str,
    path: str,
    body: bytes,
    content_type: str,
) -> None:
    """Read as its last value, `{"credits": 1, "credits": 5}` spends 5 where a proxy that logged
    the first saw 1."""
    assert send(client, "PUT", f"/v1/users/{USER}", b"{}", None).status_code == 200
    assert grant(client, USER, 10, "welcome").status_code == 200
    before = table_snapshot(database_url)

    response = send(client, method, path, body, content_type)

    assert error_of(response) == (422, "invalid_request")
    assert "twice" in response.json()["error"]["message"]
    assert table_snapshot(database_url) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v1/users/%FF"),
        ("PUT", "/v1/users/caf%C3"),
        ("GET", "/v1/users/%FE"),
        ("GET", "/v1/wallets/%FF/ledger"),
        ("GET", "/v1/events/evt_%FF"),
    ],
)
def test_a_path_whose_escapes_are_not_utf8_is_refused_with_422_not_read_as_a_replacement_char(
    client: TestClient, database_url: str, method: str, path: str
) -> None:
    """Decoded with replacement, %FF and %FE would both be the user "\ufffd"."""
    before = table_snapshot(database_url)

    response = client.request(method, path, json={"email": None}, headers=auth())

    assert error_of(response) == (422, "invalid_request")
    assert "UTF-8" in response.json()["error"]["message"]
    assert table_snapshot(database_url) == before


def test_a_path_in_utf8_still_names_its_user(client: TestClient) -> None:
    response = client.put("/v1/users/caf%C3%A9", json={}, headers=auth())

    assert response.status_code == 200, response.text
    assert response.json()["user"]["id"] == "café"
