"""`creditflow holds USER` and `creditflow hold void HOLD_ID`, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.cli.support import cli, cli_json, one_line_error
from tests.support import auth, grant, register

pytestmark = pytest.mark.usefixtures("cli_database")

USER = "user_1"


def a_hold(client: TestClient, credits: int = 30) -> str:
    register(client, USER)
    assert grant(client, USER, 100, "welcome").status_code == 200
    body = {"credits": credits, "idempotency_key": "job", "reason": "a long job"}
    response = client.post(f"/v1/wallets/{USER}/holds", json=body, headers=auth())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_holds_lists_a_users_holds_and_hold_void_releases_one_once(client: TestClient) -> None:
    hold_id = a_hold(client)
    listed = cli_json("holds", USER)["holds"]
    assert [(h["id"], h["status"], h["credits"]) for h in listed] == [(hold_id, "held", 30)]
    assert hold_id in cli("holds", USER).stdout

    voided = cli_json("hold", "void", hold_id)
    assert (voided["status"], voided["released"], voided["available"]) == ("voided", 30, 100)
    assert "already voided" in cli("hold", "void", hold_id).stdout
    assert cli_json("holds", USER, "--status", "held")["holds"] == []
    assert client.get(f"/v1/wallets/{USER}", headers=auth()).json()["held"] == 0


def test_hold_void_of_an_unknown_hold_says_so_in_one_line(client: TestClient) -> None:
    assert "no hold hold_nope" in one_line_error(cli("hold", "void", "hold_nope"))
