"""Fixtures of the CLI tests (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.conftest import scratch_postgres_database


@pytest.fixture
def blank_postgres_url() -> Iterator[str]:
    """A PostgreSQL database of its own with no schema at all (as `createdb` leaves it), dropped
    afterwards: what `serve` must refuse and `migrate` must set up."""
    with scratch_postgres_database(f"creditflow_cli_blank_{secrets.token_hex(4)}") as url:
        yield url


@pytest.fixture
def cli_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI configured, as an operator's environment would be, with the parametrised database
    (SQLite and PostgreSQL, migrated and empty); its URL, for what a test does behind its back."""
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", database_url)
    return database_url
