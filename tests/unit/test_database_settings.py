"""`CREDITFLOW_DB_POOL_SIZE`: how many PostgreSQL connections each process keeps; and
`CREDITFLOW_DB_PREPARED_STATEMENTS`: whether psycopg may prepare statements on them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from creditflow.settings import Settings


def test_by_default_each_process_keeps_ten_connections() -> None:
    assert Settings(_env_file=None).db_pool_size == 10


def test_the_pool_size_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITFLOW_DB_POOL_SIZE", "3")

    assert Settings(_env_file=None).db_pool_size == 3


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0", "greater than or equal to 1"),
        ("-1", "greater than or equal to 1"),
        ("abc", "valid integer"),
    ],
)
def test_a_pool_size_below_one_or_not_a_number_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, reason: str
) -> None:
    monkeypatch.setenv("CREDITFLOW_DB_POOL_SIZE", value)

    with pytest.raises(ValidationError, match=rf"(?s)CREDITFLOW_DB_POOL_SIZE.*{reason}"):
        Settings(_env_file=None)


def test_prepared_statements_are_on_unless_turned_off_for_pgbouncer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings(_env_file=None).db_prepared_statements is True
    monkeypatch.setenv("CREDITFLOW_DB_PREPARED_STATEMENTS", "false")

    assert Settings(_env_file=None).db_prepared_statements is False


def test_a_prepared_statements_value_that_is_not_a_boolean_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CREDITFLOW_DB_PREPARED_STATEMENTS", "sometimes")

    with pytest.raises(ValidationError, match=r"(?s)CREDITFLOW_DB_PREPARED_STATEMENTS.*boolean"):
        Settings(_env_file=None)
