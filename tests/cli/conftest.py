"""Fixtures of the CLI tests (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_SERVER_URL


@pytest.fixture
def blank_postgres_url() -> Iterator[str]:
    """A PostgreSQL database of its own with no schema at all (as `createdb` leaves it), dropped
    afterwards: what `serve` must refuse and `migrate` must set up."""
    name = f"creditflow_cli_blank_{os.getpid()}_{secrets.token_hex(4)}"
    server = create_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


@pytest.fixture
def cli_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI configured, as an operator's environment would be, with the parametrised database
    (SQLite and PostgreSQL, migrated and empty); its URL, for what a test does behind its back."""
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", database_url)
    return database_url
