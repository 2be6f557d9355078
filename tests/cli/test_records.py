"""The operators' commands straight on the database, on SQLite and on PostgreSQL.

Deliveries reach the database through the real app (the `client` fixture, which checks every
invariant afterwards); the commands under test then read and change it as an operator would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from creditflow.adapters.stripe import samples
from creditflow.entrypoints.cli import app
from tests.cli.support import cli, cli_json, one_line_error
from tests.fakes.stripe_api import FakeStripeApi
from tests.support import deliver, paid_session_event

pytestmark = pytest.mark.usefixtures("cli_database")

PRICE = "price_1PgafmB7WZ01zgkW02Hf9z6c"


def payment_link_purchase(client: TestClient, email: str, credits: int) -> str:
    event = paid_session_event(user_id=None, email=email, payment_link="plink_1Qx", credits=credits)
    response = deliver(client, event)
    assert response.json()["status"] == "processed", response.text
    return str(event["data"]["object"]["id"])


def test_users_add_claims_the_credits_waiting_for_the_users_email_once(
    client: TestClient,
) -> None:
    payment_link_purchase(client, "Ada@Example.com", 300)
    assert [
        (grant["email"], grant["credits"]) for grant in cli_json("pending")["pending_grants"]
    ] == [("ada@example.com", 300)]

    first = cli_json("users", "add", "ada", "--email", "ada@example.com")
    again = cli_json("users", "add", "ada", "--email", "ada@example.com")

    assert (first["created"], first["balance"]) == (True, 300)
    assert [grant["credits"] for grant in first["claimed"]] == [300]
    assert (again["created"], again["balance"], again["claimed"]) == (False, 300, [])
    assert cli_json("pending")["pending_grants"] == []
    assert cli_json("wallet", "ada")["balance"] == 300
    entries = cli_json("ledger", "ada")["entries"]
    assert [(entry["delta"], entry["kind"]) for entry in entries] == [(300, "purchase")]


def test_users_add_without_email_keeps_the_stored_one_so_payment_links_still_find_them(
    client: TestClient,
) -> None:
    cli_json("users", "add", "bob", "--email", "bob@example.com")

    again = cli_json("users", "add", "bob")
    payment_link_purchase(client, "Bob@Example.com", 300)

    assert again["user"]["email"] == "bob@example.com"
    assert cli_json("wallet", "bob")["balance"] == 300
    assert cli_json("pending")["pending_grants"] == []


def test_the_grants_users_add_claimed_say_who_claimed_them_and_when(client: TestClient) -> None:
    payment_link_purchase(client, "grace@example.com", 40)

    claimed = cli_json("users", "add", "grace", "--email", "grace@example.com")["claimed"]

    assert [(grant["claimed_by"], grant["claimed_at"] is not None) for grant in claimed] == [
        ("grace", True)
    ]


def test_tables_for_people_show_the_records_scripts_get_as_json(client: TestClient) -> None:
    session_id = payment_link_purchase(client, "lin@example.com", 70)

    pending = cli("pending")
    added = cli("users", "add", "lin", "--email", "lin@example.com")
    wallet = cli("wallet", "lin")
    ledger = cli("ledger", "lin")
    events = cli("events", "--status", "processed")

    assert all(r.exit_code == 0 for r in (pending, added, wallet, ledger, events))
    assert "lin@example.com" in pending.stdout
    assert "70" in pending.stdout
    assert "User lin <lin@example.com> registered; balance 70 credits." in added.stdout
    assert "Claimed pending grants" in added.stdout
    assert wallet.stdout.startswith("lin: 70 credits")
    assert "+70" in ledger.stdout
    assert session_id in ledger.stdout
    assert "checkout.session.completed" in events.stdout


def test_json_output_is_only_json_on_stdout_and_nothing_on_stderr(client: TestClient) -> None:
    payment_link_purchase(client, "kim@example.com", 5)

    for args in (("pending",), ("events",), ("users", "add", "kim"), ("wallet", "kim")):
        result = cli(*args, "--json")
        assert result.exit_code == 0, result.stderr
        assert result.stdout.lstrip().startswith("{")
        assert result.stderr == ""


def test_replay_grants_a_parked_delivery_once_after_the_catalog_is_written(
    client: TestClient,
    fake_stripe: FakeStripeApi,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    cli_json("users", "add", "ida")
    event = paid_session_event(user_id="ida", credits=None)
    assert deliver(client, event).json()["status"] == "needs_attention"
    parked = cli_json("events", "--status", "needs_attention")["events"]
    assert [stored["id"] for stored in parked] == [event["id"]]

    catalog = tmp_path / "catalog.toml"
    catalog.write_text("")
    monkeypatch.setenv("CREDITFLOW_CATALOG", str(catalog))
    monkeypatch.setenv("STRIPE_SECRET_KEY", fake_stripe.api_key)
    monkeypatch.setenv("STRIPE_API_BASE", fake_stripe.base_url)
    fake_stripe.sell(event["data"]["object"]["id"], (PRICE, 3))
    still_parked = cli_json("replay", event["id"], exit_code=1)
    catalog.write_text(f"[prices.{PRICE}]\ncredits = 25\n")
    replayed = cli_json("replay", event["id"])
    cli_json("replay", event["id"])

    assert still_parked["status"] == "needs_attention"
    assert replayed == {"event_id": event["id"], "status": "processed", "error": None}
    assert cli_json("wallet", "ida")["balance"] == 75  # replayed twice, granted once
    assert cli_json("events", "--status", "needs_attention")["events"] == []


def test_a_replay_that_still_needs_attention_says_why_and_exits_1(client: TestClient) -> None:
    event = samples.event("checkout.session.completed", samples.checkout_session(credits="ten"))
    deliver(client, event)

    result = cli("replay", event["id"])

    assert result.exit_code == 1
    assert "needs_attention" in result.stdout
    assert "'ten', not a positive whole number" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("wallet", "nobody"), "error: no user nobody"),
        (("ledger", "nobody"), "error: no user nobody"),
        (("replay", "evt_unknown"), "error: no stored delivery evt_unknown"),
        (("users", "add", "eve", "--email", "not-an-email"), "is not an e-mail address"),
    ],
)
def test_errors_are_one_line_on_stderr_with_exit_status_1_or_json_on_stdout_with_json(
    args: tuple[str, ...], message: str
) -> None:
    result = cli(*args)
    as_json = cli(*args, "--json")

    assert message in one_line_error(result)
    assert result.stdout == ""
    assert as_json.exit_code == 1
    assert message.removeprefix("error: ") in json.loads(as_json.stdout)["error"]["message"]


def test_an_email_that_belongs_to_another_user_is_refused() -> None:
    cli_json("users", "add", "olga", "--email", "olga@example.com")

    result = cli("users", "add", "oscar", "--email", "OLGA@example.com")

    assert "already belongs to another user" in one_line_error(result)


def at_80_columns(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_at_80_columns_ids_are_printed_whole_so_they_can_be_copied(client: TestClient) -> None:
    parked = paid_session_event(user_id="nobody_registered_under_this_long_id", credits=None)
    assert deliver(client, parked).json()["status"] == "needs_attention"
    payment_link_purchase(client, "a.rather.long.address@example.com", 25)

    events = at_80_columns("events").splitlines()
    pending = at_80_columns("pending").splitlines()

    assert any(parked["id"] in line for line in events), events
    assert all(len(line) <= 80 for line in events + pending)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("events",), "No events stored."),
        (
            ("events", "--status", "needs_attention"),
            "No events stored with status needs_attention.",
        ),
        (("pending",), "No pending grants."),
    ],
)
def test_an_empty_listing_says_so_in_words(args: tuple[str, ...], words: str) -> None:
    assert cli(*args).stdout.strip() == words


def test_an_empty_ledger_says_so_in_words() -> None:
    cli_json("users", "add", "newcomer")

    assert cli("ledger", "newcomer").stdout.strip() == "No ledger entries for newcomer."
