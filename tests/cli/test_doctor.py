"""`creditflow doctor` on good and deliberately broken set-ups, against the fake Stripe API.

localstripe has no webhook endpoints, prices or payment links, so the account doctor reads is
tests/fakes/stripe_api.py, reached through the real SDK. Exit status: 0 all well, 1 a problem,
2 warnings only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from creditflow.adapters.stripe.events import HANDLED_EVENT_TYPES
from creditflow.settings import LEGACY_WEBHOOK_PATH, WEBHOOK_PATH
from tests.cli.support import cli, cli_json
from tests.conftest import POSTGRES_SERVER_URL, ClientFactory
from tests.fakes.stripe_api import FakeStripeApi
from tests.servers import free_port
from tests.support import (
    API_KEY,
    PRICE,
    WEBHOOK_SECRET,
    catalog_toml,
    deliver,
    paid_session_event,
)

HOST = "https://pay.example.com"
LINK = "plink_1Pgc78B7WZ01zgkWC75kX0jg"
Report = dict[str, Any]


@pytest.fixture
def configured(
    cli_database: str, fake_stripe: FakeStripeApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> FakeStripeApi:
    """A good set-up: secrets, keys, one endpoint sending everything, a catalog Stripe knows."""
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(catalog_toml(prices={PRICE: 100}, links={LINK: 500}))
    fake_stripe.add_price(PRICE)
    fake_stripe.add_payment_link(LINK)
    fake_stripe.add_webhook_endpoint(f"{HOST}{WEBHOOK_PATH}")
    for name, value in {
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CREDITFLOW_API_KEY": API_KEY,
        "STRIPE_SECRET_KEY": fake_stripe.api_key,
        "STRIPE_API_BASE": fake_stripe.base_url,
        "CREDITFLOW_CATALOG": str(catalog),
    }.items():
        monkeypatch.setenv(name, value)
    return fake_stripe


def doctor(*args: str, exit_code: int) -> Report:
    report: Report = cli_json("doctor", *args, exit_code=exit_code)
    return report


def levels(report: Report) -> dict[str, str]:
    """Each check's worst level (a check may report several findings)."""
    found: dict[str, str] = {}
    order = ["ok", "warning", "problem"]
    for finding in report["findings"]:
        previous = found.get(finding["check"], "ok")
        found[finding["check"]] = max(previous, finding["level"], key=order.index)
    return found


def message_of(report: Report, check: str) -> str:
    return " ".join(f["message"] for f in report["findings"] if f["check"] == check)


def test_a_good_set_up_is_all_ok_and_exits_0(configured: FakeStripeApi) -> None:
    report = doctor("--url", HOST, exit_code=0)

    assert report["status"] == "ok"
    assert set(levels(report).values()) == {"ok"}
    assert set(levels(report)) >= {"database", "webhook secret", "api key", "stripe", "catalog"}


def test_a_readable_table_names_each_check(configured: FakeStripeApi) -> None:
    result = cli("doctor")

    assert result.exit_code == 0, result.stdout
    for check in ("database", "webhook secret", "webhook endpoints", "catalog"):
        assert check in result.stdout


def test_an_endpoint_on_the_legacy_url_is_a_problem(configured: FakeStripeApi) -> None:
    configured.webhook_endpoints.clear()
    configured.add_webhook_endpoint(f"{HOST}{LEGACY_WEBHOOK_PATH}")

    report = doctor(exit_code=1)

    assert levels(report)["legacy url"] == "problem"
    assert LEGACY_WEBHOOK_PATH in message_of(report, "legacy url")


def test_both_urls_configured_means_double_delivery_and_the_legacy_one_is_named(
    configured: FakeStripeApi,
) -> None:
    configured.add_webhook_endpoint(f"{HOST}{LEGACY_WEBHOOK_PATH}")

    report = doctor(exit_code=1)

    assert levels(report)["legacy url"] == "problem"
    assert levels(report)["webhook endpoints"] == "warning"
    assert "every event arrives twice" in message_of(report, "webhook endpoints")


def test_only_endpoints_on_this_services_host_count_when_the_url_is_given(
    configured: FakeStripeApi,
) -> None:
    configured.add_webhook_endpoint(f"https://other-app.example.com{WEBHOOK_PATH}")

    assert levels(doctor("--url", HOST, exit_code=0))["webhook endpoints"] == "ok"
    assert levels(doctor(exit_code=2))["webhook endpoints"] == "warning"  # both look like ours


def test_a_disabled_endpoint_and_no_enabled_one_is_a_problem(configured: FakeStripeApi) -> None:
    configured.webhook_endpoints.clear()
    configured.add_webhook_endpoint(f"{HOST}{WEBHOOK_PATH}", status="disabled")

    report = doctor(exit_code=1)

    assert levels(report)["disabled endpoint"] == "warning"
    assert levels(report)["webhook endpoints"] == "problem"


def test_event_types_the_endpoint_does_not_send_are_named(configured: FakeStripeApi) -> None:
    configured.webhook_endpoints.clear()
    sent = ["checkout.session.completed", "charge.refunded"]
    configured.add_webhook_endpoint(f"{HOST}{WEBHOOK_PATH}", sent)

    report = doctor(exit_code=1)

    missing = message_of(report, "event types")
    assert "checkout.session.async_payment_succeeded" in missing
    assert all(event_type not in missing for event_type in sent)
    assert {e for e in HANDLED_EVENT_TYPES if e in missing} == set(HANDLED_EVENT_TYPES) - set(sent)


@pytest.mark.parametrize(
    ("secret", "check"),
    [("", "webhook secret"), ("sk_test_not_a_signing_secret_123456", "webhook secret")],
)
def test_a_missing_or_malformed_webhook_secret_is_a_problem_and_never_printed(
    configured: FakeStripeApi, monkeypatch: pytest.MonkeyPatch, secret: str, check: str
) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", secret)

    result = cli("doctor", "--json")

    assert result.exit_code == 1
    assert "whsec_" in result.stdout  # says what a signing secret looks like
    if secret:
        assert secret not in result.stdout + result.stderr
    assert result.stdout.count('"problem"') >= 1


def test_no_secret_value_appears_in_a_clean_report(configured: FakeStripeApi) -> None:
    result = cli("doctor", "--json")

    for secret in (WEBHOOK_SECRET, API_KEY, configured.api_key):
        assert secret not in result.stdout + result.stderr


def test_catalog_entries_stripe_does_not_have_are_named(configured: FakeStripeApi) -> None:
    configured.prices.clear()
    configured.payment_links.clear()

    report = doctor(exit_code=1)

    assert levels(report)["catalog"] == "problem"
    assert f"price {PRICE}" in message_of(report, "catalog")
    assert f"payment link {LINK}" in message_of(report, "catalog")


def test_a_recurring_price_no_rule_prices_is_a_plans_warning_naming_it(
    configured: FakeStripeApi,
) -> None:
    configured.add_price("price_plan_meta", credits="500", interval="month")
    configured.add_price("price_plan_bare", interval="month")
    configured.add_price("price_plan_inactive", interval="month")
    configured.prices["price_plan_inactive"]["active"] = False

    report = doctor(exit_code=2)

    assert levels(report)["plans"] == "warning"
    message = message_of(report, "plans")
    assert "price_plan_bare" in message
    assert "price_plan_meta" not in message  # its own metadata.credits prices it
    assert "price_plan_inactive" not in message  # no subscription can start on it
    assert PRICE not in message  # one-time: no subscription bills it


def test_a_recurring_price_in_the_catalog_is_a_priced_plan(
    configured: FakeStripeApi, tmp_path: Path
) -> None:
    configured.add_price("price_plan_bare", interval="month")
    (tmp_path / "catalog.toml").write_text(
        catalog_toml(prices={PRICE: 100, "price_plan_bare": 1000}, links={LINK: 500})
    )

    report = doctor(exit_code=0)

    assert levels(report)["plans"] == "ok"
    assert message_of(report, "plans") == "1 recurring prices, each gives credits"


def test_a_refused_stripe_key_is_a_problem(
    configured: FakeStripeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_revoked_0000")

    report = doctor(exit_code=1)

    assert levels(report)["stripe"] == "problem"
    assert "sk_test_revoked_0000" not in str(report)


def test_without_a_stripe_key_the_stripe_checks_are_a_warning(
    configured: FakeStripeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STRIPE_SECRET_KEY")

    report = doctor(exit_code=2)

    assert levels(report)["stripe"] == "warning"
    assert "STRIPE_SECRET_KEY" in message_of(report, "stripe")


def test_a_database_never_migrated_is_a_problem_naming_migrate(
    configured: FakeStripeApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")

    report = doctor(exit_code=1)

    [database] = [f for f in report["findings"] if f["check"] == "database"]
    assert database["level"] == "problem"
    assert "creditflow migrate" in database["fix"]


def test_parked_deliveries_are_a_warning_saying_how_to_replay_them(
    configured: FakeStripeApi, client_for: ClientFactory
) -> None:
    client = client_for()  # the app on the CLI's database, delivering through the real webhook
    deliver(client, paid_session_event(user_id="user_1", credits=None))  # no rule prices it

    report = doctor(exit_code=2)

    [parked] = [f for f in report["findings"] if f["check"] == "needs attention"]
    assert (parked["level"], parked["message"].split()[0]) == ("warning", "1")
    assert "creditflow replay" in parked["fix"]


@pytest.mark.parametrize(
    ("catalog_text", "words"),
    [(None, "cannot be read"), ('[prices.price_1]\ncredits = "abc"\n', "price_1")],
    ids=["missing file", "credits not a number"],
)
def test_a_missing_or_broken_catalog_is_a_problem_without_a_stripe_key(
    configured: FakeStripeApi,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    catalog_text: str | None,
    words: str,
) -> None:
    monkeypatch.delenv("STRIPE_SECRET_KEY")
    catalog = tmp_path / "broken.toml"
    if catalog_text is not None:
        catalog.write_text(catalog_text)
    monkeypatch.setenv("CREDITFLOW_CATALOG", str(catalog))

    report = doctor(exit_code=1)

    assert levels(report)["catalog"] == "problem"
    assert words in message_of(report, "catalog")


def test_without_a_stripe_key_a_good_catalog_is_read_and_said_to_be_unchecked(
    configured: FakeStripeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STRIPE_SECRET_KEY")

    report = doctor(exit_code=2)

    assert levels(report)["catalog"] == "ok"
    assert "2 entries read; not checked against Stripe" in message_of(report, "catalog")


def test_a_postgres_database_that_does_not_exist_is_named_with_the_fix(
    configured: FakeStripeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = make_url(POSTGRES_SERVER_URL).set(database="creditflow_no_such_database")
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", missing.render_as_string(False))

    report = doctor(exit_code=1)

    [database] = [f for f in report["findings"] if f["check"] == "database"]
    assert "no such database 'creditflow_no_such_database'" in database["message"]
    assert "createdb creditflow_no_such_database" in database["fix"]


def test_a_database_server_that_refuses_connections_is_said_so(
    configured: FakeStripeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed_port = free_port()
    monkeypatch.setenv(
        "CREDITFLOW_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{closed_port}/db"
    )

    report = doctor(exit_code=1)

    [database] = [f for f in report["findings"] if f["check"] == "database"]
    assert "connection refused" in database["message"]
    assert "start PostgreSQL" in database["fix"]


def test_an_endpoint_without_the_subscription_events_is_told_which(
    configured: FakeStripeApi,
) -> None:
    configured.webhook_endpoints.clear()
    subscription_events = {
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
        "invoice_payment.paid",
        "customer.subscription.deleted",
    }
    sent = [e for e in HANDLED_EVENT_TYPES if e not in subscription_events]
    configured.add_webhook_endpoint(f"{HOST}{WEBHOOK_PATH}", sent)

    missing = message_of(doctor(exit_code=1), "event types")

    assert all(event_type in missing for event_type in subscription_events)
