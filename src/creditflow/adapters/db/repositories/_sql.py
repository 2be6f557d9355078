"""Dialect details shared by the repositories, and the statements they run most, built once.

Building a SQLAlchemy statement costs more CPU here than PostgreSQL spends running it (a few
hundred microseconds, a millisecond for ON CONFLICT DO UPDATE): statements on the webhook and
spend paths are built once per dialect and table, and executed with their values as parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    Column,
    Connection,
    Executable,
    Row,
    Table,
    any_,
    bindparam,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY

KEY = "key_"  # the WHERE parameter of `update_by_key`; no column has this name


def upsert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can say ON CONFLICT: both engines have it, each in its own dialect."""
    if dialect == "postgresql":
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
    statement = inserting_row_if_absent(connection.dialect.name, table, conflict_on)
    return connection.execute(statement, dict(values)).one_or_none()


def inserting_row_if_absent(
    dialect: str, table: Table, conflict_on: Sequence[str] | None
) -> Executable:
    """`insert_row_if_absent`'s statement, for a load that sends it with others."""
    return _ignoring_conflicts(dialect, table, _keys(conflict_on), True)


def inserting_if_absent(
    dialect: str, table: Table, conflict_on: Sequence[str] | None
) -> Executable:
    """`insert_if_absent`'s statement (the new primary key only), for a load that sends it
    with others."""
    return _ignoring_conflicts(dialect, table, _keys(conflict_on), False)


def insert_if_absent(
    connection: Connection,
    table: Table,
    values: Mapping[str, Any],
    conflict_on: Sequence[str] | None,
) -> Any | None:
    """Like `insert_row_if_absent`; only the new primary key."""
    statement = inserting_if_absent(connection.dialect.name, table, conflict_on)
    return connection.execute(statement, dict(values)).scalar_one_or_none()


def update_by_key(
    connection: Connection, table: Table, key: object, values: Mapping[str, Any]
) -> Row[Any] | None:
    """UPDATE table SET values WHERE primary key = key RETURNING *: the row as it now stands."""
    return connection.execute(_update(table, True), {KEY: key, **values}).one_or_none()


def set_by_key(
    connection: Connection, table: Table, key: object, values: Mapping[str, Any]
) -> None:
    """UPDATE table SET values WHERE primary key = key."""
    connection.execute(_update(table, False), {KEY: key, **values})


def setting_by_key(
    table: Table, key: object, values: Mapping[str, Any]
) -> tuple[Executable, dict[str, Any]]:
    """`set_by_key`'s statement, for a load or a store that sends it with others."""
    return _update(table, False), {KEY: key, **values}


def among(dialect: str, column: Column[Any], name: str) -> Any:
    """`column = ANY(:name)` with one array parameter on PostgreSQL (one statement whatever
    the batch's size, so the pipeline compiles it once); an expanding IN elsewhere."""
    if dialect == "postgresql":
        array: BindParameter[Any] = bindparam(name, type_=ARRAY(column.type))
        return column == any_(array)
    return column.in_(bindparam(name, expanding=True))


def _keys(conflict_on: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if conflict_on is None else tuple(conflict_on)


@cache
def _ignoring_conflicts(
    dialect: str, table: Table, conflict_on: tuple[str, ...] | None, whole_row: bool
) -> Executable:
    # No VALUES clause: the columns are the parameters' keys, as each call gives them.
    insert = upsert(dialect, table).on_conflict_do_nothing(
        index_elements=None if conflict_on is None else list(conflict_on)
    )
    returned = table.columns if whole_row else table.primary_key.columns
    return insert.returning(*returned)


@cache
def _update(table: Table, whole_row: bool) -> Executable:
    # No SET clause: the columns are the parameters' keys other than KEY.
    (primary_key,) = table.primary_key.columns
    statement = update(table).where(primary_key == bindparam(KEY))
    return statement.returning(*table.columns) if whole_row else statement
