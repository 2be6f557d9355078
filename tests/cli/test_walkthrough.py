"""The README walk-through, for real: `creditflow serve` in one terminal, the rest in another.

One server per module, started in an empty directory with nothing configured, exactly as a
newcomer starts it; every test then runs the CLI from that directory (so it reads the `.env`
the server wrote and the same SQLite file) against that server over HTTP.
"""

from __future__ import annotations

import re
import secrets
import shlex
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from creditflow.bootstrap import build_container
from creditflow.entrypoints.cli import app
from creditflow.settings import Settings
from tests.cli.support import RunningServer, cli, cli_json, serve
from tests.fakes.stripe_api import FakeStripeApi
from tests.servers import free_port
from tests.support import assert_audit_clean, assert_ledger_matches_balances

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
PRICE = "price_1PgafmB7WZ01zgkW02Hf9z6c"
COMPLETED = "checkout.session.completed"
EXPIRED = "checkout.session.expired"


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    workdir = tmp_path_factory.mktemp("newcomer")
    with serve(workdir) as server:
        yield server
    database_url = f"sqlite:///{workdir / 'creditflow.db'}"
    container = build_container(Settings(_env_file=None, database_url=database_url))
    try:
        assert_audit_clean(container.audit.run())
    finally:
        container.close()
    assert_ledger_matches_balances(database_url)


@pytest.fixture
def here(newcomer: RunningServer, monkeypatch: pytest.MonkeyPatch) -> RunningServer:
    """The second terminal: the server's directory, nothing else configured."""
    monkeypatch.chdir(newcomer.workdir)
    return newcomer


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


def trigger(server: RunningServer, *args: str, exit_code: int = 0) -> Any:
    return cli_json("trigger", *args, "--url", server.url, exit_code=exit_code)


def api(server: RunningServer, path: str, **params: str) -> Any:
    key = Settings().api_key  # the key `serve` wrote to ./.env
    assert key is not None
    headers = {"Authorization": f"Bearer {key.get_secret_value()}"}
    response = httpx.get(f"{server.url}{path}", params=params, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_serve_with_nothing_configured_writes_a_private_env_and_names_what_and_where(
    here: RunningServer,
) -> None:
    env_file = here.workdir / ".env"
    values = [line for line in env_file.read_text().splitlines() if not line.startswith("#")]
    output = here.output()

    assert [line.split("=")[0] for line in values] == [
        "STRIPE_WEBHOOK_SECRET",
        "CREDITFLOW_API_KEY",
        "CREDITFLOW_CONSOLE_SECRET",
        "CREDITFLOW_CONSOLE_USERS",
    ]
    assert values[0].startswith("STRIPE_WEBHOOK_SECRET=whsec_")
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert str(env_file.resolve()) in output
    for line in values:
        name, _, secret = line.partition("=")
        assert f"{name}=..." in output  # what was written, by name
        assert secret not in output  # never the value: terminals get recorded and shared
    assert "warning" not in output  # both values are set now
    assert (here.workdir / "creditflow.db").exists()


def test_the_console_is_off_until_add_user_writes_an_operator_then_it_asks_for_a_login(
    here: RunningServer,
) -> None:
    before = httpx.get(f"{here.url}/console/login", timeout=30)
    added = CliRunner().invoke(
        app, ["console", "add-user", unique("op"), "--password-stdin"], input="walk-through pass\n"
    )
    after = httpx.get(f"{here.url}/console/login", timeout=30)

    assert (before.status_code, "console is off" in before.text) == (404, True)
    assert added.exit_code == 0, added.stdout
    assert (after.status_code, "Operator name" in after.text) == (200, True)


def test_verify_passes_against_the_freshly_started_server(here: RunningServer) -> None:
    result = cli("verify", "--url", here.url)

    assert result.exit_code == 0, result.stdout
    assert result.stdout.count("✓") == 6
    assert "All checks passed." in result.stdout


def test_verify_as_json_lists_every_check(here: RunningServer) -> None:
    report = cli_json("verify", "--url", here.url)

    assert report["passed"] is True
    assert [check["result"] for check in report["checks"]] == ["passed"] * 6


def test_verify_spends_its_test_credits_back_through_the_ledger(here: RunningServer) -> None:
    report = cli_json("verify", "--url", here.url)

    user = next(
        word
        for check in report["checks"]
        for word in check["name"].split()
        if word.startswith("verify_")
    )
    assert cli_json("wallet", user)["balance"] == 0
    entries = cli_json("ledger", user)["entries"]
    assert [(entry["kind"], entry["delta"]) for entry in entries] == [
        ("spend", -100),
        ("purchase", 100),
    ]


def test_verify_fails_when_the_webhook_secret_differs_and_says_so(
    here: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_not_the_servers")

    result = cli("verify", "--url", here.url)

    assert result.exit_code == 1
    failed = [line for line in result.stdout.splitlines() if "✗" in line]
    assert len(failed) == 1
    assert (
        "signature verification failed: the server's STRIPE_WEBHOOK_SECRET differs from yours"
        in failed[0]
    )
    assert "purchase recorded: needs the check above" in result.stdout


def test_verify_fails_when_the_api_key_differs_and_says_so(
    here: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDITFLOW_API_KEY", "not-the-servers-key")

    report = cli_json("verify", "--url", here.url, exit_code=1)

    results = [(check["result"], check["detail"]) for check in report["checks"]]
    assert results[0][0] == "passed"
    assert results[1][0] == "failed"
    assert "the server's CREDITFLOW_API_KEY differs from yours" in results[1][1]


def test_verify_fails_when_no_server_answers(here: RunningServer) -> None:
    report = cli_json("verify", "--url", f"http://127.0.0.1:{free_port()}", exit_code=1)

    assert report["checks"][0]["result"] == "failed"
    assert "start one with `creditflow serve`" in report["checks"][0]["detail"]


def test_unpaid_completed_then_async_payment_succeeded_for_its_session_credits_once(
    here: RunningServer,
) -> None:
    user = unique("carol")
    cli_json("users", "add", user)

    unpaid = cli(
        *f"trigger {COMPLETED} --user {user} --unpaid --credits 250 --url {here.url}".split()
    )
    # The session id is printed, so that the user can target it.
    session_id = next(word for word in unpaid.stdout.split() if word.startswith("cs_test_"))
    awaiting = cli_json("wallet", user)["balance"]
    settle = ["--session", session_id, "--user", user, "--credits", "250"]
    succeeded = trigger(here, "checkout.session.async_payment_succeeded", *settle)
    again = trigger(here, "checkout.session.async_payment_succeeded", *settle)

    assert unpaid.exit_code == 0, unpaid.stdout
    assert f"--session {session_id}" in unpaid.stdout  # the follow-up command, ready to paste
    assert awaiting == 0
    assert succeeded["response"]["status"] == "processed"
    assert again["response"]["status"] == "duplicate"
    assert cli_json("wallet", user)["balance"] == 250
    assert [entry["delta"] for entry in cli_json("ledger", user)["entries"]] == [250]


def test_async_payment_failed_marks_the_purchase_failed_and_grants_nothing(
    here: RunningServer,
) -> None:
    user = unique("dave")
    cli_json("users", "add", user)
    unpaid = trigger(here, COMPLETED, "--user", user, "--unpaid")
    session_id = unpaid["session_id"]

    failed = trigger(
        here, "checkout.session.async_payment_failed", "--session", session_id, "--user", user
    )

    assert failed["response"]["status"] == "processed"
    purchases = api(here, "/v1/purchases", user_id=user)["purchases"]
    assert [(p["checkout_session_id"], p["status"]) for p in purchases] == [(session_id, "failed")]
    assert cli_json("wallet", user)["balance"] == 0


def test_a_payment_link_from_an_unknown_email_waits_as_a_pending_grant(
    here: RunningServer,
) -> None:
    user = unique("dana")
    email = f"{user}@example.com"

    sent = trigger(here, COMPLETED, *f"--payment-link plink_1Qx --email {email.upper()}".split())
    waiting = [grant for grant in cli_json("pending")["pending_grants"] if grant["email"] == email]
    registered = cli_json("users", "add", user, "--email", email)

    assert sent["response"]["status"] == "processed"
    assert [(grant["user_id"], grant["credits"]) for grant in waiting] == [(None, 100)]
    assert registered["balance"] == 100
    assert [grant["id"] for grant in registered["claimed"]] == [waiting[0]["id"]]
    assert waiting[0]["id"] not in {g["id"] for g in cli_json("pending")["pending_grants"]}


def test_replay_of_a_parked_event_grants_once_after_the_catalog_is_written(
    here: RunningServer, fake_stripe: FakeStripeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = unique("erin")
    cli_json("users", "add", user)
    session_id = unique("cs_test_replay")
    parked = trigger(
        here, COMPLETED, *f"--user {user} --no-credits-metadata --session {session_id}".split()
    )
    event_id = parked["event_id"]
    listed = cli_json("events", "--status", "needs_attention")["events"]

    catalog = here.workdir / f"{user}-catalog.toml"
    catalog.write_text(f"[prices.{PRICE}]\ncredits = 40\n")
    fake_stripe.sell(session_id, (PRICE, 2))
    monkeypatch.setenv("CREDITFLOW_CATALOG", str(catalog))
    monkeypatch.setenv("STRIPE_SECRET_KEY", fake_stripe.api_key)
    monkeypatch.setenv("STRIPE_API_BASE", fake_stripe.base_url)
    replayed = cli_json("replay", event_id)
    cli_json("replay", event_id)

    assert parked["response"]["status"] == "needs_attention", parked
    assert event_id in {stored["id"] for stored in listed}
    assert replayed["status"] == "processed"
    assert cli_json("wallet", user)["balance"] == 80  # replayed twice, granted once


def test_trigger_exits_non_zero_when_the_server_refuses_and_says_why(
    here: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong_path = cli(*f"trigger {EXPIRED} --user x --url {here.url} --path /nope".split())
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_not_the_servers")
    wrong_secret = cli("trigger", COMPLETED, "--user", "x", "--url", here.url)

    assert wrong_path.exit_code == 1
    assert "404" in wrong_path.stdout
    assert "check --url and --path" in wrong_path.stderr
    assert wrong_secret.exit_code == 1
    assert "← 400 invalid_signature" in wrong_secret.stdout
    assert "the server's STRIPE_WEBHOOK_SECRET differs from yours" in wrong_secret.stderr


def test_an_expired_session_is_recorded_and_grants_nothing(here: RunningServer) -> None:
    user = unique("fay")
    cli_json("users", "add", user)

    sent = trigger(here, EXPIRED, "--user", user)

    assert sent["status_code"] == 200
    purchases = api(here, "/v1/purchases", user_id=user)["purchases"]
    assert [p["status"] for p in purchases] == ["expired"]
    assert cli_json("wallet", user)["balance"] == 0


def readme_block(language: str, containing: str) -> list[str]:
    """The lines of the README's first ```language block that contains `containing`."""
    blocks: list[str] = re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.DOTALL)
    [block] = [block for block in blocks if containing in block][:1]
    return block.splitlines()


def run_as_written(server: RunningServer, line: str, event_id: str) -> Any:
    """One README line: `creditflow ...` through the CLI (trigger pointed at this test's server,
    `evt_test_...` the id `events` printed), anything else through the shell, in its directory."""
    if not line.startswith("creditflow "):
        subprocess.run(["sh", "-c", line], cwd=server.workdir, check=True, timeout=30)
        return None
    args = [arg.replace("evt_test_...", event_id) for arg in shlex.split(line, comments=True)[1:]]
    if args[0] == "trigger":
        args += ["--url", server.url]
    return cli_json(*args)


def test_the_readmes_fix_the_catalog_then_replay_steps_work_as_written_without_a_stripe_key(
    here: RunningServer,
) -> None:
    cli_json("users", "add", "alice", "--email", "alice@example.com")  # the walk-through's start
    before = cli_json("wallet", "alice")["balance"]
    walk = readme_block("sh", "--payment-link plink_test_2")
    parking = walk[next(i for i, line in enumerate(walk) if "plink_test_2" in line) :]
    toml = readme_block("toml", "credits_per_purchase = 250")
    fixing = readme_block("sh", "CREDITFLOW_CATALOG=catalog.toml")

    parked = run_as_written(here, parking[0], "")
    listed = run_as_written(here, parking[1], "")
    (here.workdir / toml[0].removeprefix("# ")).write_text("\n".join(toml[1:]) + "\n")
    results = [run_as_written(here, line, parked["event_id"]) for line in fixing]

    assert parked["response"]["status"] == "needs_attention", parked
    assert parked["event_id"] in {event["id"] for event in listed["events"]}
    assert [result["status"] for result in results[1:3]] == ["processed", "duplicate"]
    assert cli_json("wallet", "alice")["balance"] == before + 250  # replayed twice, granted once
    assert [entry["delta"] for entry in results[3]["entries"]][:1] == [250]
