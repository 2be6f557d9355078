"""After each fulfilment run: was every payment granted exactly once? Fails loudly if not.

wrk stops mid-flight: requests it wrote in its last moment may be served after it stops, or
never. So "sent" means what reached the server (the inbox), and the requests wrk issued but never
saw answered may number at most its connections per run, and were either fully processed or not
stored at all. Everything else is exact.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import create_engine, func, select

from bench.webhook.load import Request
from bench.webhook.payments import CREDITS
from bench.webhook.wrk import WrkSummary
from creditflow.adapters.db.tables import ledger_entries, pending_grants, purchases, wallets
from creditflow.adapters.db.tables import webhook_events as inbox

SETTLE_SECONDS = 0.5
SETTLE_DEADLINE = 15.0


class CorrectnessError(AssertionError):
    pass


@dataclass
class Answers:
    """What wrk saw answered, summed over every run on one database."""

    statuses: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    cut_off_allowance: int = 0  # connections summed over runs: at most one cut off per each

    def add(self, result: WrkSummary, connections: int) -> None:
        self.statuses.update(result["statuses"])
        self.outcomes.update(result["outcomes"])
        errors = result["errors"]
        self.errors += sum(errors.values()) - errors["status"]
        self.cut_off_allowance += connections


@dataclass(frozen=True)
class Verdict:
    """Counts so far on the database, every run on it included (warm-ups too)."""

    stored_so_far: int  # distinct payments in the inbox
    grants_so_far: int
    cut_off_so_far: int  # issued by wrk as it stopped, never stored
    duplicates_answered_so_far: int


def check(url: str, sent: Sequence[Request], answers: Answers) -> Verdict:
    """Every answer 200; one purchase grant per payment received, none for a re-send; audit."""
    rows = _settled_inbox(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        grants = connection.execute(
            select(func.count(), func.count(ledger_entries.c.purchase_id.distinct())).where(
                ledger_entries.c.kind == "purchase"
            )
        ).one()
        purchase_count = connection.execute(select(func.count()).select_from(purchases)).scalar()
        pending = connection.execute(select(func.count()).select_from(pending_grants)).scalar()
        balance = connection.execute(select(func.coalesce(func.sum(wallets.c.balance), 0))).scalar()
    engine.dispose()

    issued = {request.payment.event_id for request in sent}
    answered = sum(answers.statuses.values())
    failures = []
    if set(answers.statuses) - {"200"} or answers.errors:
        failures.append(
            f"answers other than 200: {dict(answers.statuses)}, {answers.errors} errors"
        )
    if set(answers.outcomes) - {"processed", "duplicate"}:
        failures.append(f"outcomes other than processed/duplicate: {dict(answers.outcomes)}")
    if stray := set(rows) - issued:
        failures.append(f"{len(stray)} inbox events were never sent, e.g. {sorted(stray)[:3]}")
    if bad := {event: status for event, (status, _) in rows.items() if status != "processed"}:
        failures.append(f"{len(bad)} deliveries not processed: {list(bad.items())[:3]}")
    count, distinct = grants
    if count != distinct:
        failures.append(f"second grants: {count} purchase entries for {distinct} purchases")
    if not count == purchase_count == len(rows):
        failures.append(f"{count} grants, {purchase_count} purchases, {len(rows)} payments stored")
    cut_off = len(issued) - len(rows)
    if not 0 <= cut_off <= answers.cut_off_allowance:
        failures.append(f"{cut_off} payments issued but never stored")
    deliveries = sum(delivery_count for _, delivery_count in rows.values())
    if not answered <= deliveries <= len(sent):
        failures.append(f"{deliveries} deliveries stored for {answered} answers, {len(sent)} sent")
    if answers.outcomes["processed"] > count:
        failures.append(f"{answers.outcomes['processed']} answered processed, {count} grants")
    if pending or balance != count * CREDITS:
        failures.append(
            f"{pending} pending grants; wallets hold {balance}, grants {count * CREDITS}"
        )
    failures.extend(_audit(url))
    if failures:
        raise CorrectnessError("; ".join(failures))
    return Verdict(len(rows), count, cut_off, answers.outcomes["duplicate"])


def _settled_inbox(url: str) -> dict[str, tuple[str, int]]:
    """The inbox once the requests wrk left in flight are done: unchanged for SETTLE_SECONDS."""
    engine = create_engine(url)
    query = select(inbox.c.id, inbox.c.status, inbox.c.delivery_count)
    deadline = time.monotonic() + SETTLE_DEADLINE
    previous: dict[str, tuple[str, int]] | None = None
    try:
        while True:
            with engine.connect() as connection:
                rows = {
                    row.id: (row.status, row.delivery_count) for row in connection.execute(query)
                }
            if rows == previous or time.monotonic() > deadline:
                return rows
            previous = rows
            time.sleep(SETTLE_SECONDS)
    finally:
        engine.dispose()


def _audit(url: str) -> list[str]:
    """`creditflow audit`, as an operator runs it: exit 0 or the breaches it names."""
    env = {**os.environ, "CREDITFLOW_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "creditflow.entrypoints.cli", "audit"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        return []
    return [f"creditflow audit exited {done.returncode}: {done.stdout}{done.stderr}"]
