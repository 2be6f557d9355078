"""`creditflow audit`, on SQLite and on PostgreSQL: clean after real work, and each breach named
when the database is corrupted on purpose behind the services' back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Update, create_engine, update

from creditflow.adapters.db.audit import INVARIANTS
from creditflow.adapters.db.tables import credit_lots, wallets
from tests.cli.support import clean_environment, cli, cli_json, one_line_error

EVERY_INVARIANT = [invariant.name for invariant in INVARIANTS]


@pytest.fixture(autouse=True)
def ada_with_credits(cli_database: str) -> None:
    cli_json("users", "add", "ada")
    cli_json("grant", "ada", "50", "--reason", "welcome", "--idempotency-key", "w")
    cli_json(
        "grant", "ada", "20", "--reason", "promo", "--idempotency-key", "p",
        "--expires-at", "2099-01-01T00:00:00Z",
    )  # fmt: skip


def corrupt(database_url: str, statement: Update) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(statement)
    engine.dispose()


# Ledger entries cannot be touched (a trigger refuses it): corruption comes from the other side.
BALANCE_RAISED = update(wallets).where(wallets.c.user_id == "ada").values(balance=75)
LOT_DRAINED = update(credit_lots).where(credit_lots.c.credits == 20).values(remaining=0)
CORRUPTIONS = [
    pytest.param(BALANCE_RAISED, ["balance_equals_ledger", "lots_match_balance"], id="balance"),
    pytest.param(LOT_DRAINED, ["lots_match_balance"], id="lot"),
]


def statuses(table: str) -> dict[str, str]:
    """Invariant -> status, from the table a person reads (continued details skipped)."""
    rows = ([cell.strip() for cell in line.split("│")] for line in table.splitlines())
    return {row[1]: row[2] for row in rows if len(row) > 2 and row[1]}


def test_every_invariant_holds_after_real_work_and_the_audit_exits_0() -> None:
    table = cli("audit")
    report = cli_json("audit")

    assert table.exit_code == 0, table.stderr
    assert table.stderr == ""
    assert statuses(table.stdout) == dict.fromkeys(EVERY_INVARIANT, "ok")
    assert report["ok"] is True
    assert [i["invariant"] for i in report["invariants"]] == EVERY_INVARIANT
    assert all(i["holds"] and i["breaches"] == [] for i in report["invariants"])


@pytest.mark.parametrize(("statement", "breached"), CORRUPTIONS)
def test_a_corrupted_database_fails_the_audit_naming_each_breach_and_its_rows(
    cli_database: str, statement: Update, breached: list[str]
) -> None:
    corrupt(cli_database, statement)

    report = cli_json("audit", exit_code=1)
    table = cli("audit")

    assert report["ok"] is False
    found = {i["invariant"]: i["breaches"] for i in report["invariants"] if not i["holds"]}
    assert sorted(found) == breached
    assert all(rows and all("user_id=ada" in row for row in rows) for rows in found.values())
    error = one_line_error(table)
    assert error.startswith(f"error: {len(breached)} of {len(EVERY_INVARIANT)} invariants")
    for name, rows in found.items():
        assert f"{name}: {rows[0]}" in error
        assert statuses(table.stdout)[name] == "BREACH"
        assert rows[0] in table.stdout
    assert list(statuses(table.stdout).values()).count("ok") == len(INVARIANTS) - len(breached)


def test_a_scheduled_audit_sees_exit_status_1_from_the_installed_command(
    cli_database: str, tmp_path: Path
) -> None:
    corrupt(cli_database, BALANCE_RAISED)

    run = subprocess.run(
        [sys.executable, "-m", "creditflow", "audit"],
        env=clean_environment(CREDITFLOW_DATABASE_URL=cli_database, COLUMNS="250"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "balance_equals_ledger: user_id=ada, balance=75, ledger=70" in run.stderr
