"""The schema is written twice (the migration creates it, tables.py lets code query it) and the
zero-entry rule a third time (domain/kinds.py); these tests keep the three in step."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, inspect

from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.db.tables import ledger_entries, metadata
from creditflow.domain.kinds import ZERO_DELTA_KINDS


def test_the_migrated_schema_has_every_table_column_and_index_of_tables_py(
    database_url: str,
) -> None:
    engine = build_engine(database_url)
    try:
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    finally:
        engine.dispose()


def test_the_migration_and_tables_py_allow_zero_entries_for_the_same_kinds_as_the_domain(
    database_url: str,
) -> None:
    engine = build_engine(database_url)
    try:
        migrated = inspect(engine).get_check_constraints("ledger_entries")
    finally:
        engine.dispose()
    [in_migration] = [c["sqltext"] for c in migrated if str(c["name"]).endswith("delta_nonzero")]
    [in_tables] = [
        str(c.sqltext)
        for c in ledger_entries.constraints
        if isinstance(c, CheckConstraint) and str(c.name).endswith("delta_nonzero")
    ]
    for sql in (in_migration, in_tables):  # PostgreSQL hands it back rewritten: quoted names
        assert set(re.findall(r"'([a-z_]+)'", sql)) == {kind.value for kind in ZERO_DELTA_KINDS}
