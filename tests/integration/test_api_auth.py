"""The /v1 API answers only to the configured bearer key; its OpenAPI document is public."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ClientFactory
from tests.support import API_KEY, auth, deliver, error_of, paid_session_event, table_snapshot

V1_ROUTES = [
    ("PUT", "/v1/users/user_1", {"email": "ada@example.com"}),
    ("GET", "/v1/users/user_1", None),
    ("GET", "/v1/wallets/user_1", None),
    ("GET", "/v1/wallets/user_1/ledger", None),
    ("POST", "/v1/wallets/user_1/spend", {"credits": 1, "idempotency_key": "k", "reason": "r"}),
    ("POST", "/v1/wallets/user_1/grants", {"credits": 1, "idempotency_key": "k", "reason": "r"}),
    ("GET", "/v1/purchases", None),
    ("GET", "/v1/pending-grants", None),
    ("GET", "/v1/events", None),
    ("GET", "/v1/events/evt_1", None),
    ("POST", "/v1/events/evt_1/replay", None),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _ in V1_ROUTES]
REFUSED_CREDENTIALS = {
    "no header": {},
    "wrong key": auth("cf_test_api_key_0123456780"),
    "key prefix": auth(API_KEY[:-1]),
    "basic scheme": {"Authorization": f"Basic {API_KEY}"},
    "bare key": {"Authorization": API_KEY},
}


@pytest.mark.parametrize(
    "credentials", list(REFUSED_CREDENTIALS.values()), ids=list(REFUSED_CREDENTIALS)
)
@pytest.mark.parametrize(("method", "path", "body"), V1_ROUTES, ids=ROUTE_IDS)
def test_v1_without_the_right_bearer_key_is_refused_with_401_and_changes_nothing(
    client: TestClient,
    database_url: str,
    credentials: dict[str, str],
    method: str,
    path: str,
    body: dict[str, object] | None,
) -> None:
    before = table_snapshot(database_url)

    response = client.request(method, path, json=body, headers=credentials)

    assert error_of(response) == (401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert table_snapshot(database_url) == before


def test_v1_with_the_right_key_answers(client: TestClient) -> None:
    response = client.put("/v1/users/user_1", json={"email": None}, headers=auth())

    assert response.status_code == 200
    assert response.json()["user"]["id"] == "user_1"


def test_without_an_api_key_configured_v1_refuses_with_503_naming_the_setting(
    client_for: ClientFactory, database_url: str
) -> None:
    client = client_for(api_key=None)
    before = table_snapshot(database_url)

    response = client.put("/v1/users/user_1", json={"email": None}, headers=auth())

    assert error_of(response) == (503, "not_configured")
    assert "CREDITFLOW_API_KEY" in response.json()["error"]["message"]
    assert table_snapshot(database_url) == before


def test_without_an_api_key_configured_the_webhook_still_takes_deliveries(
    client_for: ClientFactory,
) -> None:
    client = client_for(api_key=None)

    response = deliver(client, paid_session_event(user_id="user_1", credits=10))

    assert response.status_code == 200
    assert response.json()["status"] == "processed"  # parked as a pending grant for user_1


def test_the_openapi_document_is_served_without_a_key_and_describes_the_contract(
    client: TestClient,
) -> None:
    response = client.get("/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert {
        "/api/stripe/webhook",
        "/healthz",
        "/v1/users/{user_id}",
        "/v1/wallets/{user_id}",
        "/v1/wallets/{user_id}/ledger",
        "/v1/purchases",
        "/v1/pending-grants",
        "/v1/events",
        "/v1/events/{event_id}/replay",
    } <= set(document["paths"])
    schemes = document["components"]["securitySchemes"].values()
    assert [scheme["scheme"].lower() for scheme in schemes] == ["bearer"]


def test_interactive_docs_are_served_at_docs(client: TestClient) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text


def test_an_unknown_route_is_a_json_404(client: TestClient) -> None:
    assert error_of(client.get("/v2/nothing", headers=auth())) == (404, "not_found")
