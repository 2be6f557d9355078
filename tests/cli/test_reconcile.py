"""`creditflow reconcile` against localstripe: webhooks were missed; Stripe's Events API heals it.

Each test gets a localstripe of its own, with no webhook endpoint registered (every delivery is
"missed"); the test delivers some events itself, as the webhook would have, and reconcile must
find and process exactly the others, once, however often it runs and whatever arrives meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
import stripe

from creditflow.adapters.stripe.client import make_client
from tests.cli.support import cli, cli_json
from tests.conftest import ClientFactory
from tests.servers import all_at_once
from tests.support import (
    API_KEY,
    WEBHOOK_SECRET,
    balance,
    confirmed_payment,
    deliver,
    ledger,
    register,
    stored_event,
    stripe_gateway,
    table_snapshot,
)

KEY = "sk_test_localstripe_0123456789"  # localstripe accepts any sk_ key
USER = "user_rc"

pytestmark = pytest.mark.slow


@pytest.fixture
def account(
    cli_database: str, fresh_localstripe: str, monkeypatch: pytest.MonkeyPatch
) -> stripe.StripeClient:
    """The CLI configured against the test's own localstripe; the buyer's side of it."""
    for name, value in {
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CREDITFLOW_API_KEY": API_KEY,
        "STRIPE_SECRET_KEY": KEY,
        "STRIPE_API_BASE": fresh_localstripe,
    }.items():
        monkeypatch.setenv(name, value)
    return make_client(KEY, fresh_localstripe)


def pay(sdk: stripe.StripeClient, credits: int) -> str:
    return confirmed_payment(sdk, user_id=USER, credits=credits, amount=credits * 10)


def listed_events(localstripe: str) -> list[dict[str, Any]]:
    since = datetime.now(UTC) - timedelta(hours=1)
    return list(stripe_gateway(localstripe, KEY).events(["payment_intent.succeeded"], since=since))


def since_an_hour_ago() -> str:
    return (datetime.now(UTC) - timedelta(hours=1)).isoformat()


def test_reconcile_processes_exactly_the_missed_events_and_a_second_run_nothing(
    account: stripe.StripeClient, fresh_localstripe: str, client_for: ClientFactory
) -> None:
    client = client_for()
    register(client, USER)
    for credits in (10, 20, 30):
        pay(account, credits)
    events = listed_events(fresh_localstripe)
    delivered = next(e for e in events if e["data"]["object"]["metadata"]["credits"] == "10")
    assert deliver(client, delivered).json()["status"] == "processed"  # the one webhook that came

    first = cli_json("reconcile", "--since", since_an_hour_ago())
    second = cli_json("reconcile", "--since", since_an_hour_ago())

    assert (first["seen"], first["already_had"], first["processed"]) == (3, 1, 2)
    assert sorted(first["missing"]) == sorted(e["id"] for e in events if e is not delivered)
    assert (second["seen"], second["already_had"], second["processed"], second["missing"]) == (
        3,
        3,
        0,
        [],
    )
    assert balance(client, USER) == 60
    assert sorted(entry["delta"] for entry in ledger(client, USER)) == [10, 20, 30]
    assert stored_event(client, first["missing"][0])["endpoint"] == "reconcile"


def test_a_dry_run_names_what_is_missing_and_changes_nothing(
    account: stripe.StripeClient, fresh_localstripe: str, cli_database: str
) -> None:
    cli_json("users", "add", USER)
    intent_ids = [pay(account, credits) for credits in (5, 7)]
    before = table_snapshot(cli_database)

    report = cli_json("reconcile", "--since", since_an_hour_ago(), "--dry-run")

    assert table_snapshot(cli_database) == before
    assert (report["dry_run"], report["seen"], report["processed"]) == (True, 2, 0)
    listed = listed_events(fresh_localstripe)
    assert sorted(e["data"]["object"]["id"] for e in listed) == sorted(intent_ids)
    assert sorted(report["missing"]) == sorted(e["id"] for e in listed)


def test_reconcile_racing_live_webhooks_for_the_same_events_grants_once(
    account: stripe.StripeClient, fresh_localstripe: str, client_for: ClientFactory
) -> None:
    client = client_for()
    register(client, USER)
    for credits in (1, 2, 3, 4):
        pay(account, credits)
    events = listed_events(fresh_localstripe)
    webhooks: list[Callable[[], Any]] = [partial(deliver, client, event) for event in events]
    since = since_an_hour_ago()

    calls: list[Callable[[], Any]] = [partial(cli_json, "reconcile", "--since", since), *webhooks]
    results: list[Any] = all_at_once(calls)

    report = results[0]
    assert report["already_had"] + report["processed"] == 4
    assert balance(client, USER) == 10
    assert sorted(entry["delta"] for entry in ledger(client, USER)) == [1, 2, 3, 4]


def test_without_a_stripe_key_reconcile_says_which_setting_is_missing(cli_database: str) -> None:
    result = cli("reconcile", "--since", since_an_hour_ago())

    assert result.exit_code == 1
    assert "STRIPE_SECRET_KEY" in result.stderr


def test_a_readable_report_counts_each_kind(
    account: stripe.StripeClient, cli_database: str
) -> None:
    cli_json("users", "add", USER)
    pay(account, 9)

    result = cli("reconcile", "--since", since_an_hour_ago())

    assert result.exit_code == 0, result.stderr
    assert "newly processed" in result.stdout
    assert cli_json("wallet", USER)["balance"] == 9
