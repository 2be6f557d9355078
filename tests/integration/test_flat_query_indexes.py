"""Migration 0003 (the indexes `make bench-scale` asked for) goes down and up cleanly, and the
schema it leaves is tables.py's on both engines."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from creditflow.adapters.db import migrate
from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.db.tables import metadata


def index_names(url: str, table: str) -> set[str]:
    engine = build_engine(url)
    try:
        return {str(index["name"]) for index in inspect(engine).get_indexes(table)}
    finally:
        engine.dispose()


def test_migration_0003_downgrades_to_0002_and_upgrades_again(database_url: str) -> None:
    engine = build_engine(database_url)
    try:
        command.downgrade(migrate._config(engine), "0002")
        assert migrate.current_revision(engine) == "0002"
        assert "ix_purchases_user_id" in index_names(database_url, "purchases")
        assert "ix_pending_grants_email_key" in index_names(database_url, "pending_grants")
    finally:
        migrate.upgrade(engine)
    try:
        assert migrate.is_up_to_date(engine)
        assert "ix_pending_grants_unclaimed" in index_names(database_url, "pending_grants")
        assert index_names(database_url, "purchases") >= {
            "ix_purchases_user_id_id",
            "ix_purchases_status_id",
        }
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    finally:
        engine.dispose()
