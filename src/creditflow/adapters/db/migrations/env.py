"""Alembic environment: migrations run on the engine creditflow hands in (see migrate.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from creditflow.adapters.db.tables import metadata

engine: Engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
