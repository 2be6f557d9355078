"""`creditflow grant` and `creditflow expire`, on SQLite and on PostgreSQL.

Each test ends with `creditflow audit` over the whole database (and the ledger summed
independently): whatever an operator's command did, every invariant still holds.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from creditflow.bootstrap import Container
from tests.cli.support import cli, cli_json, one_line_error
from tests.support import assert_ledger_matches_balances, auth, services_at

LONG_AGO = datetime.now(UTC) - timedelta(days=30)
NEXT_MONTH = datetime.now(UTC) + timedelta(days=30)


@pytest.fixture(autouse=True)
def audited(cli_database: str) -> Iterator[None]:
    cli_json("users", "add", "ada")
    yield
    assert cli_json("audit")["ok"] is True
    assert_ledger_matches_balances(cli_database)


def ledger_of(user_id: str) -> list[tuple[int, str, str]]:
    entries = cli_json("ledger", user_id)["entries"]
    return [(entry["delta"], entry["kind"], entry["reference"]) for entry in entries]


def test_a_grant_returns_the_balance_and_entry_and_its_key_again_grants_nothing(
    cli_database: str,
) -> None:
    args = ("grant", "ada", "50", "--reason", "welcome bonus", "--idempotency-key", "promo-7")

    first = cli_json(*args)
    again = cli_json(*args)

    assert first["user_id"] == "ada"
    assert first["balance"] == 50
    assert first["replayed"] is False
    assert first["entry"]["delta"] == 50
    assert first["entry"]["kind"] == "grant"
    assert first["entry"]["reason"] == "welcome bonus"
    assert again == {**first, "replayed": True}
    assert cli_json("wallet", "ada")["balance"] == 50
    assert ledger_of("ada") == [(50, "grant", "promo-7")]


def test_a_person_reads_the_new_balance_the_entry_and_when_the_credits_expire(
    cli_database: str,
) -> None:
    granted = cli(
        "grant", "ada", "25", "--reason", "apology", "--expires-at", "2099-01-31T00:00:00Z"
    )
    again = cli("grant", "ada", "25", "--reason", "apology", "--expires-at", "2099-01-31T00:00:00Z")

    assert granted.exit_code == 0, granted.stderr
    assert (
        "Granted 25 credits to ada, expiring 2099-01-31 00:00:00Z; balance 25 credits."
        in granted.stdout
    )
    assert "+25" in granted.stdout
    assert "apology" in granted.stdout
    assert again.exit_code == 0, again.stderr
    assert "Granted" in again.stdout  # no key given: a new key, a new grant
    assert cli_json("wallet", "ada")["balance"] == 50


def test_without_a_key_the_generated_one_is_printed_first_and_its_retry_grants_nothing(
    cli_database: str,
) -> None:
    granted = cli("grant", "ada", "10", "--reason", "it's a gift [promo]")
    retry_command = re.search(r"to retry safely: (.+)$", granted.stderr, re.MULTILINE)
    assert granted.exit_code == 0, granted.stderr
    assert retry_command is not None, granted.stderr
    program, *args = shlex.split(retry_command.group(1))

    retried = cli(*args)

    assert program == "creditflow"
    assert retried.exit_code == 0, retried.stderr
    assert "Replayed: key cli-" in retried.stdout
    assert "nothing changed" in retried.stdout
    assert retried.stderr == ""
    assert [delta for delta, _, _ in ledger_of("ada")] == [10]
    assert ledger_of("ada")[0][2] in retry_command.group(1)


def test_the_same_key_for_another_amount_is_refused_and_changes_nothing(
    cli_database: str,
) -> None:
    cli_json("grant", "ada", "50", "--reason", "promo", "--idempotency-key", "k1")

    refused = cli("grant", "ada", "60", "--reason", "promo", "--idempotency-key", "k1", "--json")

    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["error"] == {
        "code": "conflict",
        "message": "idempotency key 'k1' was used for a different request "
        "(50 credits, reason 'promo')",
    }
    assert cli_json("wallet", "ada")["balance"] == 50


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody", "5"), "error: no user nobody"),
        (("ada", "0"), "credits must be a positive whole number"),
        (("--", "ada", "-5"), "credits must be a positive whole number"),
        (("ada", "5", "--expires-at", "2020-01-01T00:00:00Z"), "expires_at is in the past"),
        (("ada", "5", "--expires-at", "2099-01-01T00:00:00"), "expires_at needs a timezone"),
        (("ada", "5", "--reason", " "), "reason must be 1 to 500 characters"),
    ],
    ids=["unknown user", "zero", "negative", "past", "naive time", "blank reason"],
)
def test_a_grant_that_cannot_be_made_says_why_exits_1_and_changes_nothing(
    cli_database: str, args: tuple[str, ...], message: str
) -> None:
    options = ("--idempotency-key", "k2", "--reason", "promo")  # a later --reason wins

    refused = cli("grant", *options, *args)

    assert message in one_line_error(refused)
    assert refused.stdout == ""
    assert ledger_of("ada") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ada", "-5"), "credits must be a positive whole number"),
        (("ada", "0"), "credits must be a positive whole number"),
        (("ada", "5", "--expires-at", "2020-01-01T00:00:00Z"), "is in the past"),
        (("ada", "5", "--expires-at", "2099-01-01T00:00:00"), "needs a timezone"),
    ],
    ids=["negative", "zero", "past", "naive time"],
)
def test_a_new_keys_grant_that_no_retry_can_make_is_refused_without_a_retry_command(
    args: tuple[str, ...], message: str
) -> None:
    refused = cli("grant", *args, "--reason", "promo")

    assert message in one_line_error(refused)  # the only line: no "to retry safely"
    assert ledger_of("ada") == []


def test_an_expiry_time_that_is_not_iso_8601_is_a_usage_error(cli_database: str) -> None:
    refused = cli("grant", "ada", "5", "--reason", "promo", "--expires-at", "next tuesday")

    assert refused.exit_code == 2
    assert "is not an ISO 8601 time" in refused.stderr
    assert ledger_of("ada") == []


def test_the_cli_and_the_api_grant_through_one_operation_keyed_alike(
    cli_database: str, client: TestClient
) -> None:
    body = {"credits": 40, "idempotency_key": "campaign-9", "reason": "spring campaign"}
    over_http = client.post("/v1/wallets/ada/grants", json=body, headers=auth())
    assert over_http.status_code == 200, over_http.text

    same = cli_json(
        "grant", "ada", "40", "--reason", "spring campaign", "--idempotency-key", "campaign-9"
    )
    other = cli(
        "grant", "ada", "41", "--reason", "spring campaign", "--idempotency-key", "campaign-9"
    )

    assert same == {**over_http.json(), "replayed": True}
    assert "was used for a different request" in one_line_error(other)
    assert cli_json("wallet", "ada")["balance"] == 40


def grant_long_ago(
    container: Container, user_id: str, credits: int, key: str, expires_at: datetime | None
) -> None:
    container.wallets.grant(user_id, credits, key, "promo", expires_at)


def test_expire_takes_each_lot_past_its_date_out_through_the_ledger_once(
    cli_database: str,
) -> None:
    cli_json("users", "add", "bob")
    cli_json("users", "add", "cyd")
    with services_at(cli_database, LONG_AGO) as then:
        grant_long_ago(then, "ada", 30, "a-promo", LONG_AGO + timedelta(days=1))
        grant_long_ago(then, "ada", 100, "a-gift", None)
        then.wallets.spend("ada", 10, "a-spend", "chat")  # from the lot expiring first
        grant_long_ago(then, "bob", 5, "b-promo-1", LONG_AGO + timedelta(days=1))
        grant_long_ago(then, "bob", 7, "b-promo-2", LONG_AGO + timedelta(days=2))
        grant_long_ago(then, "cyd", 9, "c-promo", NEXT_MONTH)

    first = cli_json("expire")
    second = cli_json("expire")

    assert first == {
        "expired_credits": 32,
        "wallets": [
            {"user_id": "ada", "lots": 1, "credits": 20},
            {"user_id": "bob", "lots": 2, "credits": 12},
        ],
    }
    assert second == {"expired_credits": 0, "wallets": []}
    balances = {user: cli_json("wallet", user)["balance"] for user in ("ada", "bob", "cyd")}
    assert balances == {"ada": 100, "bob": 0, "cyd": 9}
    assert ledger_of("ada")[0][:2] == (-20, "expiry")
    assert sorted(delta for delta, kind, _ in ledger_of("bob") if kind == "expiry") == [-7, -5]


def test_a_person_reads_what_expired_by_wallet_or_that_nothing_was_due(
    cli_database: str,
) -> None:
    with services_at(cli_database, LONG_AGO) as then:
        grant_long_ago(then, "ada", 15, "a-promo", LONG_AGO + timedelta(hours=1))

    expired = cli("expire")
    nothing = cli("expire")

    assert expired.exit_code == 0, expired.stderr
    assert "Expired 15 credits." in expired.stdout
    assert re.search(r"ada\s+│\s+1\s+│\s+15", expired.stdout), expired.stdout
    assert nothing.exit_code == 0, nothing.stderr
    assert "Nothing to expire" in nothing.stdout
