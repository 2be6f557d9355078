"""The plans behind an operation: `EXPLAIN (ANALYZE, BUFFERS)` of every statement it runs.

A hook on the engine explains each statement just before it really runs, on the same connection
and inside the same transaction (so it sees exactly what the statement will see), within a
savepoint rolled back at once: the operation runs once, as it would without the hook. The
statements are the repositories' own, captured, never copied here, so the plans stay true
when the queries change.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event

WATCHED = ("ledger_entries", "credit_lots", "purchases", "pending_grants")
_SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")
_EXECUTION = re.compile(r"Execution Time: ([\d.]+) ms")
_BUFFERS = re.compile(r"Buffers: shared(?: hit=(\d+))?(?: read=(\d+))?")
_DML = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


@dataclass
class Plan:
    statement: str
    text: str

    @property
    def seq_scans(self) -> list[str]:
        return _SEQ_SCAN.findall(self.text)

    @property
    def buffers(self) -> int:
        """Pages the statement touched (shared hit + read of its top node): a measure of work
        that, unlike time, does not depend on what else the machine is doing."""
        for line in self.text.split("\nPlanning")[0].splitlines():
            found = _BUFFERS.search(line)
            if found:
                return sum(int(n) for n in found.groups() if n)
        return 0

    @property
    def execution_ms(self) -> float:
        found = _EXECUTION.search(self.text)
        return float(found.group(1)) if found else 0.0


@dataclass
class Capture:
    plans: list[Plan] = field(default_factory=list)

    def seq_scans_on(self, tables: tuple[str, ...] = WATCHED) -> list[str]:
        return [table for plan in self.plans for table in plan.seq_scans if table in tables]


@contextmanager
def explaining(engine: Engine) -> Iterator[Capture]:
    """Every statement run on `engine` meanwhile is explained into the yielded capture."""
    capture = Capture()

    def before(
        _conn: Any, cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if many or not statement.lstrip().upper().startswith(_DML):
            return
        with cursor.connection.cursor() as explain:
            explain.execute("SAVEPOINT bench_explain")
            try:
                explain.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                text = "\n".join(row[0] for row in explain.fetchall())
            finally:
                explain.execute("ROLLBACK TO SAVEPOINT bench_explain")
                explain.execute("RELEASE SAVEPOINT bench_explain")
        capture.plans.append(Plan(" ".join(statement.split()), text))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield capture
    finally:
        event.remove(engine, "before_cursor_execute", before)
