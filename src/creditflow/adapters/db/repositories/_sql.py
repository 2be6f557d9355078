"""Dialect details shared by the repositories, kept in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_if_absent(
    connection: Connection,
    table: Table,
    values: Mapping[str, Any],
    conflict_on: Sequence[str] | None,
) -> Any | None:
    """INSERT ... ON CONFLICT DO NOTHING; the new primary key, or None when the row existed.

    `conflict_on=None` means a conflict on any unique constraint.

    On PostgreSQL a concurrent inserter of the same key waits for the first to commit, then
    sees the conflict: this is what serialises duplicate deliveries without a race.
    """
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=None if conflict_on is None else list(conflict_on))
        .returning(*table.primary_key.columns)
    )
    return connection.execute(statement).scalar_one_or_none()
