"""Dialect details shared by the repositories, kept in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can say ON CONFLICT: both engines have it, each in its own dialect."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_row_if_absent(
    connection: Connection,
    table: Table,
    values: Mapping[str, Any],
    conflict_on: Sequence[str] | None,
) -> Row[Any] | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING *: the new row, or None when one existed.

    `conflict_on=None` means a conflict on any unique constraint.

    On PostgreSQL a concurrent inserter of the same key waits for the first to commit, then
    sees the conflict: this is what serialises duplicate deliveries without a race. The row comes
    back whole, so the caller needs no second statement to read what it just wrote.
    """
    statement = _ignoring_conflicts(connection, table, values, conflict_on)
    return connection.execute(statement.returning(*table.columns)).one_or_none()


def insert_if_absent(
    connection: Connection,
    table: Table,
    values: Mapping[str, Any],
    conflict_on: Sequence[str] | None,
) -> Any | None:
    """Like `insert_row_if_absent`; only the new primary key."""
    statement = _ignoring_conflicts(connection, table, values, conflict_on)
    return connection.execute(statement.returning(*table.primary_key.columns)).scalar_one_or_none()


def _ignoring_conflicts(
    connection: Connection,
    table: Table,
    values: Mapping[str, Any],
    conflict_on: Sequence[str] | None,
) -> postgresql.Insert | sqlite.Insert:
    keys = None if conflict_on is None else list(conflict_on)
    return upsert(connection, table).values(**values).on_conflict_do_nothing(index_elements=keys)
