"""Several statements a load or a store sends together, in turn through SQLAlchemy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Executable

Statement = tuple[Executable, Mapping[str, Any]]
Rows = list[dict[str, Any]]


def run_together(connection: Connection, statements: Sequence[Statement]) -> list[Rows]:
    """Each statement's rows (empty for one that returns none), in the order given."""
    results = []
    for statement, params in statements:
        result = connection.execute(statement, dict(params))
        results.append([dict(row) for row in result.mappings()] if result.returns_rows else [])
    return results
