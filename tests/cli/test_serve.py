"""`creditflow serve` outside the zero set-up path: what it warns about, what it never writes.

A local `.env` with generated secrets is written only for a newcomer (embedded default database,
nothing configured, no `.env`); everyone else gets warnings that say what to set.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import httpx
import pytest

from creditflow.entrypoints.cli import local_dev
from creditflow.entrypoints.cli.server import cpu_cores
from creditflow.settings import Settings
from tests.cli.support import cli, cli_json, one_line_error, serve
from tests.servers import all_at_once
from tests.support import (
    API_KEY,
    WEBHOOK_SECRET,
    assert_ledger_matches_balances,
    balance,
    deliver,
    paid_session_event,
    register,
)

pytestmark = pytest.mark.slow


def test_without_a_webhook_secret_serve_warns_and_webhooks_are_refused_with_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own_database = f"sqlite:///{tmp_path / 'shop.db'}"  # not the default: nothing is generated

    with serve(tmp_path, {"CREDITFLOW_DATABASE_URL": own_database}) as server:
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        refused = cli("trigger", "checkout.session.completed", "--user", "u", "--url", server.url)
        output = server.output()

    assert "warning: STRIPE_WEBHOOK_SECRET is not set: every webhook will be refused with 503" in (
        output
    )
    assert "`creditflow trigger` and `verify` must see the same value" in output
    assert "warning: CREDITFLOW_API_KEY is not set" in output
    assert not (tmp_path / ".env").exists()
    assert refused.exit_code == 1
    assert "← 503" in refused.stdout
    assert "the server has no STRIPE_WEBHOOK_SECRET" in refused.stderr


def test_on_sqlite_serve_says_it_serves_with_one_worker_by_default_and_why(
    tmp_path: Path,
) -> None:
    own_database = f"sqlite:///{tmp_path / 'shop.db'}"

    with serve(tmp_path, {"CREDITFLOW_DATABASE_URL": own_database}) as server:
        output = server.output()

    assert "serving with 1 worker (default: SQLite takes one writer at a time)" in output


def test_with_workers_given_serve_says_so_and_what_the_default_would_have_been(
    tmp_path: Path,
) -> None:
    own_database = f"sqlite:///{tmp_path / 'shop.db'}"

    with serve(tmp_path, {"CREDITFLOW_DATABASE_URL": own_database}, args=["--workers", "2"]) as s:
        output = s.output()

    assert (
        "serving with 2 workers (--workers; the default here would be 1: "
        "SQLite takes one writer at a time)"
    ) in output


@pytest.mark.postgres_only
def test_on_postgres_migrate_then_serve_then_verify_passes(
    blank_postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "CREDITFLOW_DATABASE_URL": blank_postgres_url,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CREDITFLOW_API_KEY": API_KEY,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    migrated = cli("migrate")
    with serve(tmp_path, env) as server:
        report = cli_json("verify", "--url", server.url)

    assert migrated.exit_code == 0, migrated.stderr
    assert report["passed"] is True, report
    assert "is migrated" in server.output()
    cores = cpu_cores()
    workers = f"{cores} worker{'' if cores == 1 else 's'}"
    assert f"serving with {workers} (default: one per CPU core on PostgreSQL)" in server.output()
    assert not (tmp_path / ".env").exists()
    assert_ledger_matches_balances(blank_postgres_url)


def test_verify_without_an_api_key_here_says_which_variable_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)

    report = cli_json("verify", "--url", "http://127.0.0.1:9", exit_code=1)

    assert report["checks"][0]["result"] == "failed"  # nothing listens on port 9
    assert [check["result"] for check in report["checks"][1:]] == ["skipped"] * 5


def test_trigger_without_a_secret_here_says_where_to_find_it() -> None:
    error = one_line_error(cli("trigger", "checkout.session.completed", "--user", "u"))

    assert "STRIPE_WEBHOOK_SECRET is not set here" in error
    assert "where `creditflow serve` wrote ./.env" in error


class TestLocalSecretsAreWrittenOnlyForANewcomer:
    """The decision itself, on the settings `serve` would run with (no server needed)."""

    def test_a_fresh_directory_with_nothing_configured_gets_them(self) -> None:
        assert local_dev.wants_local_secrets(Settings())

    def test_an_existing_env_file_is_never_touched(self, tmp_path: Path) -> None:
        (tmp_path / ".env").write_text("CREDITFLOW_CATALOG=\n")

        assert not local_dev.wants_local_secrets(Settings())

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("STRIPE_WEBHOOK_SECRET", ""),  # even empty: it would override the file's value
            ("CREDITFLOW_API_KEY", "key"),
            ("CREDITFLOW_DATABASE_URL", "sqlite:///./other.db"),
        ],
    )
    def test_any_configuration_of_its_own_means_no_secrets_are_generated(
        self, name: str, value: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(name, value)

        assert not local_dev.wants_local_secrets(Settings())


def test_serve_with_two_workers_runs_two_processes_that_grant_each_payment_once(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'shop.db'}"
    env = {
        "CREDITFLOW_DATABASE_URL": database_url,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CREDITFLOW_API_KEY": API_KEY,
        "CREDITFLOW_LOG_FORMAT": "json",
    }
    payments = [paid_session_event(user_id="buyer", credits=10) for _ in range(20)]

    with (
        serve(tmp_path, env, args=("--workers", "2")) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        register(client, "buyer")
        answers = all_at_once([partial(deliver, client, event) for event in payments * 2])
        credited = balance(client, "buyer")
    started = {line["message"] for line in map(json.loads, server.log_lines()) if "message" in line}

    assert [answer.status_code for answer in answers] == [200] * 40
    assert credited == 200  # twenty payments of 10, each delivered twice
    workers = {message for message in started if message.startswith("Started server process")}
    assert len(workers) == 2, started
    assert_ledger_matches_balances(database_url)
