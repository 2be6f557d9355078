"""Scratch PostgreSQL databases for the benchmarks: created migrated, always dropped after.

Names start with `bs_` (the shared server's convention for this work) plus the process id, so
two runs never collide.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from creditflow.adapters.db import migrate
from creditflow.adapters.db.engine import build_engine

SERVER_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def scratch_database(label: str, revision: str = "head") -> Iterator[str]:
    """A database migrated to `revision`, empty; its URL. Dropped on the way out, whatever
    happened."""
    name = f"bs_{label}_{os.getpid()}"
    server = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    try:
        engine = build_engine(url, pool_size=1)
        migrate.upgrade(engine, revision)
        engine.dispose()
        yield url
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()
