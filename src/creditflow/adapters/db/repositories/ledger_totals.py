"""Ledger entries counted by kind and sign, from a time on: what the metrics counters add up.

One range of ix_ledger_entries_created_at_kind_delta (migration 0007), which holds every column
the statement reads: the table itself is not visited, and a range of recent entries costs the
same however long the history before it.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, case, func, select

from creditflow.adapters.db.tables import ledger_entries
from creditflow.adapters.db.types import UtcDateTime
from creditflow.domain.ledger_totals import EntryGroup, SplitGroups

_entries = ledger_entries.c


class LedgerTotalsRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def groups_since(self, since: datetime | None, split: datetime) -> SplitGroups:
        """Entries created at `since` or later (every entry when None), grouped by kind and sign
        and split at `split`."""
        parameters = {"split": split} if since is None else {"split": split, "since": since}
        rows = self._connection.execute(_statement(since is not None), parameters).all()
        before, after = [], []
        for row in rows:
            # PostgreSQL sums a BIGINT column as NUMERIC: whole numbers all the same.
            kind, credits_in, *counts = row
            entries, delta, entries_before, delta_before = (int(count) for count in counts)
            before.append(EntryGroup(kind, bool(credits_in), entries_before, delta_before))
            after.append(
                EntryGroup(kind, bool(credits_in), entries - entries_before, delta - delta_before)
            )
        return SplitGroups(before, after)


@cache
def _statement(bounded: bool) -> Select[Any]:
    """Built once: one GROUP BY over the range, each group's part before the split summed
    alongside (conditional sums, so the split needs no second pass)."""
    is_before = _entries.created_at < bindparam("split", type_=UtcDateTime())
    credits_in = _entries.delta > 0
    statement = select(
        _entries.kind,
        credits_in,
        func.count(),
        func.sum(_entries.delta),
        func.sum(case((is_before, 1), else_=0)),
        func.sum(case((is_before, _entries.delta), else_=0)),
    ).group_by(_entries.kind, credits_in)
    if bounded:
        statement = statement.where(_entries.created_at >= bindparam("since", type_=UtcDateTime()))
    return statement
