"""Scratch databases: a migrated PostgreSQL database (`bw_*`, dropped afterwards) or SQLite file.

Migration goes through `creditflow migrate`, as an operator would run it; users are registered
through the service (`UserService.register`), so wallets exist before the first payment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.webhook.payments import WEBHOOK_SECRET, user_email, user_id
from creditflow.bootstrap import build_container
from creditflow.settings import Settings

DEFAULT_POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# The server the bench creates its databases on (the tests' variable works too).
POSTGRES_SERVER = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("CREDITFLOW_TEST_POSTGRES_URL", DEFAULT_POSTGRES_SERVER),
)
PREFIX = "bw_"  # every database this harness creates; the shared server has other users


def bench_settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        webhook_secrets=(SecretStr(WEBHOOK_SECRET),),
        expiry_interval_seconds=0,
    )


@contextmanager
def postgres_database(label: str) -> Iterator[str]:
    """A new, empty PostgreSQL database named `bw_<label>_<pid>`, dropped on the way out."""
    name = f"{PREFIX}{label}_{os.getpid()}"
    server = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    drop = text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    with server.connect() as connection:
        connection.execute(drop)
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(drop)
        server.dispose()


@contextmanager
def database(engine: str, label: str, workdir: Path) -> Iterator[str]:
    """A fresh database of `engine` ("postgres" or "sqlite"), migrated; its URL."""
    if engine == "sqlite":
        url = f"sqlite:///{workdir / f'{label}.db'}"
        migrate(url)
        yield url
        return
    with postgres_database(label) as url:
        migrate(url)
        yield url


def migrate(url: str) -> None:
    """`creditflow migrate` on `url`, in its own process like an operator's."""
    env = {**os.environ, "CREDITFLOW_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "creditflow.entrypoints.cli", "migrate"],
        env=env,
        check=True,
        capture_output=True,
    )


def register_users(url: str, count: int) -> None:
    """Users `bench-user-0 .. count-1`, each with an e-mail, and so a wallet."""
    container = build_container(bench_settings(url))
    try:
        for number in range(count):
            container.users.register(user_id(number), user_email(number))
    finally:
        container.close()
